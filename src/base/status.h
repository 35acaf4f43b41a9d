// Errors as values at API boundaries: Status (ok or a message) and Result<T> (a value or a Status).
// Shaped like std::expected so it can be swapped for it once the project moves to C++23.
#pragma once
#include <cassert>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace dsv4 {

class Status {
 public:
  Status() = default;
  static Status error(std::string msg) { return Status(std::move(msg)); }
  bool ok() const { return !err_; }
  const std::string& message() const { return msg_; }
  explicit operator bool() const { return ok(); }

 private:
  explicit Status(std::string msg) : err_(true), msg_(std::move(msg)) {}
  bool err_ = false;
  std::string msg_;
};

inline Status ok_status() { return Status(); }

template <typename... Args>
Status error(fmt::format_string<Args...> f, Args&&... args) {
  return Status::error(fmt::format(f, std::forward<Args>(args)...));
}

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}             // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {        // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Result built from an ok Status");
  }
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<1>(v_);
  }
  const std::string& message() const { return status().message(); }
  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace dsv4

// Propagate a failed Status.
#define DSV4_TRY(expr)                  \
  do {                                  \
    ::dsv4::Status _st = (expr);        \
    if (!_st.ok()) return _st;          \
  } while (0)

#define DSV4_CONCAT_INNER(a, b) a##b
#define DSV4_CONCAT(a, b) DSV4_CONCAT_INNER(a, b)
// Bind the value of a Result<T> expression to `lhs`, or return its error Status.
#define DSV4_ASSIGN_OR_RETURN(lhs, expr) DSV4_ASSIGN_OR_RETURN_IMPL(DSV4_CONCAT(_res_, __LINE__), lhs, expr)
#define DSV4_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
