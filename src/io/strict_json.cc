#include "io/strict_json.h"

#include <set>
#include <string>
#include <vector>

namespace dsv4 {

Result<nlohmann::json> parse_json_strict(std::string_view text, std::string_view label) {
  using Event = nlohmann::json::parse_event_t;
  std::vector<std::set<std::string, std::less<>>> open_objects;  // keys seen, innermost last
  std::string top_key;                                           // last key of the outermost object
  std::string dup_key, dup_under;
  bool dup = false;
  auto on_event = [&](int /*depth*/, Event ev, nlohmann::json& parsed) -> bool {
    if (ev == Event::object_start) {
      open_objects.emplace_back();
    } else if (ev == Event::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (ev == Event::key && !open_objects.empty() && parsed.is_string()) {
      const std::string& k = parsed.get_ref<const std::string&>();
      if (open_objects.size() == 1) top_key = k;
      if (!open_objects.back().insert(k).second && !dup) {
        dup = true;
        dup_key = k;
        dup_under = open_objects.size() == 1 ? std::string() : top_key;
      }
    }
    return true;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text, on_event);
  } catch (const nlohmann::json::exception& e) {
    return error("{}: not valid JSON: {}", label, e.what());
  }
  if (dup) {
    if (dup_under.empty()) return error("{}: duplicate key '{}'", label, dup_key);
    return error("{}: '{}': duplicate key '{}'", label, dup_under, dup_key);
  }
  return j;
}

}  // namespace dsv4
