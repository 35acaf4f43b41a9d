// Stop strings matched on the generated text across token boundaries. Text that could still be
// the start of a stop string is held back; when a stop string completes, only the text before it
// is released and the stop text itself is never emitted (OpenAI semantics).
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace dsv4::engine {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);
  // Adds generated text; returns the part that can be emitted now.
  std::string push(std::string_view text);
  // At the end of generation (no stop matched): releases the held text.
  std::string flush();
  bool stopped() const { return stopped_; }
  // The stop string that ended generation (the earliest in the text; empty while none has).
  const std::string& matched() const { return matched_; }
  size_t held() const { return held_.size(); }

 private:
  std::vector<std::string> stops_;
  std::string held_, matched_;
  bool stopped_ = false;
};

}  // namespace dsv4::engine
