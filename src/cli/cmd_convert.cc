// dsv4 convert: a Hugging Face DeepSeek-V4 checkpoint directory -> one llama.cpp `deepseek4` GGUF
// file (io/gguf_convert.h has the layout), with the directory's tokenizer.json as
// `tokenizer.ggml.*` keys (or, without one, a byte placeholder vocabulary: the golden test models).
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/gguf_tokenizer.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "io/gguf_convert.h"
#include "io/gguf_writer.h"

namespace dsv4::cli {
namespace {

struct ConvertArgs {
  std::string model_dir;
  std::string out;
  std::string type = "bf16";
  std::string name;
  std::string tokenizer;  // default: MODEL_DIR/tokenizer.json when present
  std::string chat_template;  // a Jinja file for tokenizer.chat_template (llama.cpp's chat servers use it)
};

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error("{}: cannot open", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status convert(const ConvertArgs& a) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(a.model_dir))
    return error("{}: not a checkpoint directory (convert reads a Hugging Face V4 checkpoint)", a.model_dir);
  auto type = ggml_type_from_name(a.type);
  if (!type) return error("--type {}: not a ggml type name (bf16, q8_0 or f32)", a.type);
  DSV4_ASSIGN_OR_RETURN(ModelConfig cfg, load_model_config(a.model_dir));
  DSV4_ASSIGN_OR_RETURN(auto ck, Checkpoint::open(a.model_dir));
  GgufWriter w;
  GgufConvertOptions o;
  o.linear_type = *type;
  o.name = a.name.empty() ? fs::path(a.model_dir).filename().string() : a.name;
  DSV4_ASSIGN_OR_RETURN(GgufConvertSummary sum, add_deepseek4_model(*ck, cfg, o, w));
  std::string tok_path = a.tokenizer;
  if (tok_path.empty() && fs::exists(fs::path(a.model_dir) / "tokenizer.json"))
    tok_path = (fs::path(a.model_dir) / "tokenizer.json").string();
  tok::GgufVocab vocab;
  if (!tok_path.empty()) {
    DSV4_ASSIGN_OR_RETURN(std::string text, read_text(tok_path));
    DSV4_ASSIGN_OR_RETURN(vocab, tok::gguf_vocab_from_tokenizer_json(text, tok_path, cfg.vocab_size));
    if (static_cast<int64_t>(vocab.tokens.size()) > cfg.vocab_size)
      return error("{}: the tokenizer has {} ids, the model's embedding {} rows", tok_path, vocab.tokens.size(),
                   cfg.vocab_size);
  } else {
    vocab = tok::byte_placeholder_vocab(cfg.vocab_size);
    fmt::print(stderr, "convert: no tokenizer.json in {}: writing a byte placeholder vocabulary\n", a.model_dir);
  }
  vocab.bos = cfg.bos_token_id;
  vocab.eos = cfg.eos_token_id;
  write_gguf_vocab(vocab, w);
  if (!a.chat_template.empty()) {
    DSV4_ASSIGN_OR_RETURN(std::string tmpl, read_text(a.chat_template));
    w.set_string("tokenizer.chat_template", std::move(tmpl));
  }
  std::error_code ec;
  const fs::path parent = fs::absolute(a.out, ec).parent_path();
  const fs::space_info space = fs::space(parent, ec);
  if (!ec && static_cast<int64_t>(space.available) < sum.bytes + (64 << 20))
    return error("{}: the file needs {:.2f} GiB but only {:.2f} GiB are free", a.out, sum.bytes / double(1 << 30),
                 space.available / double(1 << 30));
  DSV4_TRY(w.write(a.out));
  fmt::print("wrote {}: {} tensors, {:.1f} MiB of tensor data (linears {}, routed experts {}){}\n", a.out, sum.tensors,
             sum.bytes / double(1 << 20), ggml_type_name(*type), cfg.expert_dtype == "fp4" ? "mxfp4" : a.type,
             sum.skipped_mtp ? fmt::format("; {} MTP tensors left out", sum.skipped_mtp) : "");
  return ok_status();
}

}  // namespace

void add_convert(CLI::App& app, int* rc) {
  auto args = std::make_shared<ConvertArgs>();
  auto* cmd = app.add_subcommand("convert", "Write a Hugging Face V4 checkpoint as a llama.cpp deepseek4 GGUF file");
  cmd->add_option("-m,--model", args->model_dir, "checkpoint directory")->required();
  cmd->add_option("--out", args->out, "output .gguf file")->required();
  cmd->add_option("--type", args->type,
                  "type of the FP8 linears: bf16 (exact, default), q8_0 (what llama.cpp's converter writes), f32");
  cmd->add_option("--name", args->name, "general.name (default: the directory's name)");
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer.json (default: the one in the model directory)");
  cmd->add_option("--chat-template", args->chat_template,
                  "Jinja chat template to store as tokenizer.chat_template, for llama.cpp's chat endpoints (dsv4 "
                  "renders the V4 encoding itself; llama.cpp's source ships models/templates/deepseek-ai-DeepSeek-V4.jinja)");
  cmd->callback([rc, args] {
    Status st = convert(*args);
    *rc = st.ok() ? 0 : fail("convert", st.message());
  });
}

}  // namespace dsv4::cli
