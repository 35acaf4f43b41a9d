// The chat page compiled into the binary (web_assets.h): every file is there with its type, the
// page references only files that exist, and no script parses strings as HTML or code.
#include "server/web_assets.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace dsv4::server {
namespace {

TEST(WebAssets, PageAndItsFilesAreEmbeddedWithTheirTypes) {
  const WebAsset* index = find_web_asset("/");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(find_web_asset("/index.html"), index);
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_NE(index->body.find("<!doctype html>"), std::string_view::npos);
  for (const char* p : {"/web/app.js", "/web/api.js", "/web/markdown.js", "/web/store.js", "/web/style.css", "/web/favicon.svg"}) {
    const WebAsset* a = find_web_asset(p);
    ASSERT_NE(a, nullptr) << p;
    EXPECT_FALSE(a->body.empty()) << p;
    EXPECT_NE(a->content_type, "application/octet-stream") << p;
    EXPECT_EQ(a->etag.size(), 18u) << p;
  }
  EXPECT_EQ(find_web_asset("/web/app.js")->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(find_web_asset("/web/style.css")->content_type, "text/css; charset=utf-8");
  EXPECT_EQ(find_web_asset("/web/missing.js"), nullptr);
  EXPECT_EQ(find_web_asset("/web/../index.html"), nullptr);
}

TEST(WebAssets, ReferencesResolveAndNoScriptIsInline) {
  const std::string html(find_web_asset("/")->body);
  const std::regex ref(R"re((?:src|href)="(/[^"]*)")re");
  int refs = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), ref); it != std::sregex_iterator(); ++it, ++refs)
    EXPECT_NE(find_web_asset((*it)[1].str()), nullptr) << (*it)[1].str();
  EXPECT_GE(refs, 3);
  EXPECT_FALSE(std::regex_search(html, std::regex(R"(<script(?![^>]*\bsrc=)[^>]*>)"))) << "inline script";
  EXPECT_FALSE(std::regex_search(html, std::regex(R"(\son[a-z]+=)"))) << "inline event handler";
  EXPECT_EQ(html.find("style=\""), std::string::npos) << "inline style (the CSP forbids it)";

  const std::regex import(R"(from '\./([^']+)')");
  for (const WebAsset& a : web_assets()) {
    if (a.content_type.rfind("text/javascript", 0) != 0) continue;
    const std::string js(a.body);
    for (const char* bad : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"})
      EXPECT_EQ(js.find(bad), std::string::npos) << a.path << " uses " << bad;
    for (auto it = std::sregex_iterator(js.begin(), js.end(), import); it != std::sregex_iterator(); ++it)
      EXPECT_NE(find_web_asset("/web/" + (*it)[1].str()), nullptr) << a.path << " imports " << (*it)[1].str();
  }
}

TEST(WebAssets, SecurityHeaders) {
  std::string csp;
  bool nosniff = false;
  for (const auto& [k, v] : web_security_headers()) {
    if (k == "Content-Security-Policy") csp = v;
    if (k == "X-Content-Type-Options") nosniff = v == "nosniff";
  }
  EXPECT_TRUE(nosniff);
  for (const char* d : {"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"})
    EXPECT_NE(csp.find(d), std::string::npos) << d;
  EXPECT_EQ(csp.find("unsafe"), std::string::npos);
}

}  // namespace
}  // namespace dsv4::server
