// The chat page `dsv4 serve` answers on GET / : index.html, its script and style sheet, compiled
// into the binary from src/server/web/ (cmake/embed_files.cmake), so the page works offline and
// needs no CDN. index.html is served at "/", every other file at "/web/NAME".
#pragma once
#include <string_view>
#include <vector>

namespace dsv4::server {

struct WebAsset {
  std::string_view path;          // the URL path: "/" or "/web/app.js"
  std::string_view content_type;  // "text/html; charset=utf-8", "text/javascript; charset=utf-8", ...
  std::string_view body;
  std::string_view etag;          // a quoted hash of the body, for If-None-Match
};

// The asset served at `path`, or null.
const WebAsset* find_web_asset(std::string_view path);
// Every asset (for the tests).
const std::vector<WebAsset>& web_assets();
// The headers every page response carries: a strict Content-Security-Policy (scripts, styles and
// connections only from the server itself, no inline script), nosniff, no framing, no referrer.
const std::vector<std::pair<std::string_view, std::string_view>>& web_security_headers();

}  // namespace dsv4::server
