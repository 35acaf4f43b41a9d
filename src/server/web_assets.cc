#include "server/web_assets.h"

#include <cstdint>
#include <cstdio>
#include <string>

namespace dsv4::server {
namespace web_data {
struct EmbeddedFile {
  const char* name;
  const unsigned char* data;
  size_t size;
};
extern const EmbeddedFile kFiles[];  // web_assets_data.cc, generated at build time
extern const size_t kFileCount;
}  // namespace web_data

namespace {

std::string_view content_type_of(std::string_view name) {
  auto ends = [&](std::string_view s) { return name.size() >= s.size() && name.substr(name.size() - s.size()) == s; };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".json")) return "application/json";
  return "application/octet-stream";
}

struct Table {
  std::vector<std::string> paths, etags;
  std::vector<WebAsset> assets;
  Table() {
    const size_t n = web_data::kFileCount;
    paths.reserve(n);
    etags.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const auto& f = web_data::kFiles[i];
      const std::string name = f.name;
      paths.push_back(name == "index.html" ? "/" : "/web/" + name);
      uint64_t h = 1469598103934665603ull;  // FNV-1a
      for (size_t k = 0; k < f.size; ++k) h = (h ^ f.data[k]) * 1099511628211ull;
      char buf[24];
      snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(h));
      etags.push_back(buf);
    }
    for (size_t i = 0; i < n; ++i) {
      const auto& f = web_data::kFiles[i];
      assets.push_back({paths[i], content_type_of(f.name), std::string_view(reinterpret_cast<const char*>(f.data), f.size), etags[i]});
    }
  }
};

const Table& table() {
  static const Table t;
  return t;
}

}  // namespace

const std::vector<WebAsset>& web_assets() { return table().assets; }

const WebAsset* find_web_asset(std::string_view path) {
  if (path == "/index.html") path = "/";
  for (const WebAsset& a : table().assets)
    if (a.path == path) return &a;
  return nullptr;
}

const std::vector<std::pair<std::string_view, std::string_view>>& web_security_headers() {
  static const std::vector<std::pair<std::string_view, std::string_view>> h = {
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
      // The assets change with the binary: revalidate (ETag) on every load.
      {"Cache-Control", "no-cache"},
  };
  return h;
}

}  // namespace dsv4::server
