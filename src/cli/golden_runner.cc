#include "cli/golden_runner.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/dist_cli.h"
#include "dist/wire.h"
#include "io/safetensors.h"
#include "model/kv_pack.h"
#include "model/model.h"

namespace dsv4::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr double kLayerTol = 1e-2, kDecisionTol = 0.98, kE2eTol = 0.2, kCaseTol = 0.3, kTop1Tol = 0.95;

struct Golden {
  std::unique_ptr<SafetensorsFile> file;
  Result<std::vector<float>> floats(const std::string& name, std::vector<int64_t>* shape = nullptr) const {
    const TensorInfo* t = file->find(name);
    if (!t) return error("{}: missing golden tensor '{}'", file->path(), name);
    if (shape) *shape = t->shape;
    std::vector<float> v(t->numel());
    for (int64_t i = 0; i < t->numel(); ++i) {
      switch (t->dtype) {
        case DType::kF32: v[i] = t->as<float>()[i]; break;
        case DType::kBF16: v[i] = bf16_to_f32(t->as<bf16>()[i]); break;
        case DType::kI32: v[i] = static_cast<float>(t->as<int32_t>()[i]); break;
        case DType::kI64: v[i] = static_cast<float>(t->as<int64_t>()[i]); break;
        default: return error("{}: golden tensor '{}' has unsupported dtype", file->path(), name);
      }
    }
    return v;
  }
};

// sqrt(sum (a-b)^2) and sqrt(sum b^2) over entries finite in the reference; a non-finite
// reference entry must be matched exactly (e.g. -inf compressor scores), else it counts as a miss.
struct Diff {
  double num = 0, den = 0;
  int64_t mismatched_inf = 0;
  void add(const float* a, const float* b, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      if (!std::isfinite(b[i])) {
        if (a[i] != b[i]) ++mismatched_inf;
        continue;
      }
      const double dd = static_cast<double>(a[i]) - b[i];
      num += dd * dd;
      den += static_cast<double>(b[i]) * b[i];
    }
  }
  double rel() const {
    if (mismatched_inf) return INFINITY;
    return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  }
};

int argmax(const float* x, int64_t n) { return static_cast<int>(std::max_element(x, x + n) - x); }

struct Totals {
  Diff e2e;
  int64_t top1_rows = 0, top1_agree = 0;
  double worst_layer = 0, worst_case = 0, decisions = 1;
  bool fail = false;
};

class Runner {
 public:
  Runner(const model::Model& m, const Golden& g, std::FILE* out, std::string dump_dir)
      : m_(m), g_(g), out_(out), dump_dir_(std::move(dump_dir)) {}
  Totals totals;

  void line(bool ok, const std::string& text) {
    fmt::print(out_, "{} {}\n", ok ? "ok  " : "FAIL", text);
    if (!ok) totals.fail = true;
  }

  // Compares logit rows [rows, V] with the golden rows; updates the e2e and top-1 totals.
  Status compare_logits(const std::string& label, const std::vector<float>& mine, const std::string& ref_name,
                        const json& top1, const json& margins) {
    DSV4_ASSIGN_OR_RETURN(auto ref, g_.floats(ref_name));
    const int64_t V = m_.config().vocab_size;
    if (ref.size() != mine.size()) return error("{}: golden has {} values, computed {}", label, ref.size(), mine.size());
    Diff d;
    d.add(mine.data(), ref.data(), static_cast<int64_t>(ref.size()));
    totals.e2e.add(mine.data(), ref.data(), static_cast<int64_t>(ref.size()));
    const int64_t rows = static_cast<int64_t>(ref.size()) / V;
    int64_t n1 = 0, a1 = 0, agree_all = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const int mine_top = argmax(&mine[r * V], V);
      const int ref_top = top1.is_array() && r < static_cast<int64_t>(top1.size()) ? top1[r].get<int>()
                                                                                  : argmax(&ref[r * V], V);
      agree_all += mine_top == ref_top;
      if (margins.is_array() && r < static_cast<int64_t>(margins.size()) && margins[r].get<double>() > 1.0) {
        ++n1;
        a1 += mine_top == ref_top;
      }
    }
    totals.top1_rows += n1;
    totals.top1_agree += a1;
    const double rel = d.rel();
    totals.worst_case = std::max(totals.worst_case, rel);
    line(rel <= kCaseTol, fmt::format("{}: rows={} rel_rms={:.4f} top1={}/{} top1(margin>1)={}/{}", label, rows, rel,
                                      agree_all, rows, a1, n1));
    return ok_status();
  }

  void check_rel(const std::string& label, const std::vector<float>& mine, const std::vector<float>& ref) {
    if (mine.size() != ref.size()) {
      line(false, fmt::format("{}: size {} vs golden {}", label, mine.size(), ref.size()));
      return;
    }
    Diff d;
    d.add(mine.data(), ref.data(), static_cast<int64_t>(ref.size()));
    const double rel = d.rel();
    totals.worst_layer = std::max(totals.worst_layer, rel);
    line(rel <= kLayerTol, fmt::format("{}: rel_rms={:.3e}", label, rel));
  }

  void check_sets(const std::string& label, const std::vector<int32_t>& mine, const std::vector<float>& ref,
                  int64_t width) {
    const int64_t rows = width ? static_cast<int64_t>(ref.size()) / width : 0;
    if (static_cast<int64_t>(mine.size()) != rows * width) {
      line(false, fmt::format("{}: {} decisions vs golden {}", label, mine.size(), ref.size()));
      totals.decisions = 0;
      return;
    }
    int64_t same = 0;
    for (int64_t r = 0; r < rows; ++r) {
      std::set<int> a, b;
      for (int64_t i = 0; i < width; ++i) {
        if (mine[r * width + i] >= 0) a.insert(mine[r * width + i]);
        if (ref[r * width + i] >= 0) b.insert(static_cast<int>(ref[r * width + i]));
      }
      same += a == b;
    }
    const double frac = rows ? static_cast<double>(same) / rows : 1.0;
    totals.decisions = std::min(totals.decisions, frac);
    line(frac >= kDecisionTol, fmt::format("{}: identical sets {}/{} ({:.1f}%)", label, same, rows, 100 * frac));
  }

  Status run_prefill(const json& cs) {
    auto tokens = cs["tokens"].get<std::vector<int32_t>>();
    auto seq = m_.new_sequence();
    DSV4_ASSIGN_OR_RETURN(auto logits, m_.forward(seq, tokens, 1));
    return compare_logits(cs["name"].get<std::string>(), logits, cs["tensors"]["logits"].get<std::string>(),
                          cs.value("top1", json()), cs.value("top1_margin", json()));
  }

  Status run_decode(const json& cs) {
    const std::string name = cs["name"].get<std::string>();
    auto tokens = cs["tokens"].get<std::vector<int32_t>>();
    const int64_t P = cs["prefill_len"].get<int64_t>(), S = cs["decode_steps"].get<int64_t>();
    if (P < 1 || P + S > static_cast<int64_t>(tokens.size())) return error("{}: bad prefill_len/decode_steps", name);
    const int64_t row = m_.config().hc_dim();
    auto seq = m_.new_sequence();
    std::vector<float> all_logits, states, st;
    DSV4_ASSIGN_OR_RETURN(auto l0, m_.forward(seq, std::span(tokens).first(P), 1, &states));
    all_logits = l0;
    for (int64_t i = 1; i <= S; ++i) {
      DSV4_ASSIGN_OR_RETURN(auto li, m_.forward(seq, std::span(tokens).subspan(P - 1 + i, 1), 1, &st));
      all_logits.insert(all_logits.end(), li.begin(), li.end());
      states.insert(states.end(), st.begin(), st.end());
    }
    DSV4_TRY(compare_logits(name, all_logits, cs["tensors"]["logits"].get<std::string>(), cs.value("top1", json()),
                            cs.value("top1_margin", json())));
    if (cs["tensors"].contains("mtp_logits") && !m_.weights().mtp.empty()) {
      // Row 0: MTP prefill over pairs (H_j, tokens[j+1]), j < P; row i: the pair j = P-1+i.
      std::vector<float> mtp_logits;
      auto mseq = m_.new_sequence();
      DSV4_ASSIGN_OR_RETURN(auto r0, m_.mtp_forward(mseq, states.data(), std::span(tokens).subspan(1, P)));
      mtp_logits = r0;
      for (int64_t i = 1; i < S; ++i) {
        const int64_t j = P - 1 + i;
        DSV4_ASSIGN_OR_RETURN(auto ri, m_.mtp_forward(mseq, &states[j * row], std::span(tokens).subspan(j + 1, 1)));
        mtp_logits.insert(mtp_logits.end(), ri.begin(), ri.end());
      }
      DSV4_TRY(compare_logits(name + ".mtp", mtp_logits, cs["tensors"]["mtp_logits"].get<std::string>(),
                              cs.value("mtp_top1", json()), cs.value("mtp_top1_margin", json())));
    }
    return ok_status();
  }

  Status run_probe(const json& cs) {
    const std::string name = cs["name"].get<std::string>();
    const json& tn = cs["tensors"];
    auto tokens = cs["tokens"].get<std::vector<int32_t>>();
    const auto& c = m_.config();
    const int64_t T = static_cast<int64_t>(tokens.size()), row = c.hc_dim(), V = c.vocab_size;
    auto has = [&](const std::string& k) { return tn.contains(k); };
    auto ref = [&](const std::string& k) { return g_.floats(tn[k].get<std::string>()); };
    std::vector<float> x(T * row);
    const bool ends = m_.placement().owns_ends;  // a pipeline stage checks the layers it holds
    if (ends) m_.embed(tokens, x.data());
    for (int l = 0; l < c.num_hidden_layers; ++l) {
      const std::string p = fmt::format("layer{}.", l);
      if (!has(p + "out") || !m_.weights().layers[l].loaded) continue;
      if (l > 0) {
        DSV4_ASSIGN_OR_RETURN(x, ref(fmt::format("layer{}.out", l - 1)));
      }
      model::LayerState st;
      m_.init_state(l, st);
      model::LayerTrace trace;
      m_.run_layer(l, st, x.data(), tokens.data(), T, 0, &trace);
      if (!dump_dir_.empty()) {
        std::ofstream f(fs::path(dump_dir_) / (p + "out.f32"), std::ios::binary);
        f.write(reinterpret_cast<const char*>(x.data()), static_cast<std::streamsize>(x.size() * sizeof(float)));
      }
      DSV4_ASSIGN_OR_RETURN(auto out, ref(p + "out"));
      check_rel(name + "." + p + "out", x, out);
      if (has(p + "route_experts")) {
        DSV4_ASSIGN_OR_RETURN(auto re, ref(p + "route_experts"));
        check_sets(name + "." + p + "route_experts", trace.route_experts, re, c.num_experts_per_tok);
      }
      if (has(p + "route_weights")) {
        DSV4_ASSIGN_OR_RETURN(auto rw, ref(p + "route_weights"));
        check_rel(name + "." + p + "route_weights", trace.route_weights, rw);
      }
      if (has(p + "indexer_topk")) {
        DSV4_ASSIGN_OR_RETURN(auto it, ref(p + "indexer_topk"));
        check_sets(name + "." + p + "indexer_topk", trace.indexer_topk, it, c.index_topk);
      }
      if (has(p + "attn_kv_cache")) {
        DSV4_ASSIGN_OR_RETURN(auto kv, ref(p + "attn_kv_cache"));
        std::vector<float> mine;
        for (auto b : st.ring) mine.push_back(bf16_to_f32(b));
        const model::MainRowFormat mf = model::MainRowFormat::of(c);
        std::vector<float> row(static_cast<size_t>(c.head_dim));
        for (int64_t r = 0; r < st.compressed.rows(); ++r) {  // the packed rows' values (exact)
          model::unpack_main_row(mf, st.compressed.row(r), row.data());
          mine.insert(mine.end(), row.begin(), row.end());
        }
        if (!dump_dir_.empty()) {
          std::ofstream f(fs::path(dump_dir_) / (p + "attn_kv_cache.f32"), std::ios::binary);
          f.write(reinterpret_cast<const char*>(mine.data()), static_cast<std::streamsize>(mine.size() * sizeof(float)));
        }
        check_rel(name + "." + p + "attn_kv_cache", mine, kv);
      }
      if (has(p + "indexer_kv_cache")) {
        DSV4_ASSIGN_OR_RETURN(auto kv, ref(p + "indexer_kv_cache"));
        std::vector<float> mine;
        const model::IndexKeyFormat kf = model::IndexKeyFormat::of(c.index_head_dim);
        std::vector<float> key(static_cast<size_t>(c.index_head_dim));
        for (int64_t r = 0; r < st.index_keys.rows(); ++r) {
          model::unpack_index_key(kf, st.index_keys.row(r), key.data());
          mine.insert(mine.end(), key.begin(), key.end());
        }
        check_rel(name + "." + p + "indexer_kv_cache", mine, kv);
      }
      DSV4_TRY(check_state(name + "." + p + "compressor", tn, p + "compressor", st.compressor));
      DSV4_TRY(check_state(name + "." + p + "indexer_compressor", tn, p + "indexer_compressor", st.idx_compressor));
    }
    const std::string last = fmt::format("layer{}.out", c.num_hidden_layers - 1);
    if (!has(last) || !ends) return ok_status();
    DSV4_ASSIGN_OR_RETURN(auto final_state, ref(last));
    if (has("all_logits") || has("logits_last")) {
      const bool all = has("all_logits");
      DSV4_ASSIGN_OR_RETURN(auto want, ref(all ? "all_logits" : "logits_last"));
      std::vector<float> mine(all ? T * V : V);
      for (int64_t t = all ? 0 : T - 1, r = 0; t < T; ++t, ++r) m_.head_logits(&final_state[t * row], &mine[r * V]);
      check_rel(name + ".head", mine, want);
    }
    if (has("mtp.block_out") && !m_.weights().mtp.empty() && T > 1) {
      auto mseq = m_.new_sequence();
      std::vector<float> block_out;
      DSV4_ASSIGN_OR_RETURN(auto ml, m_.mtp_forward(mseq, final_state.data(), std::span(tokens).subspan(1), &block_out));
      DSV4_ASSIGN_OR_RETURN(auto want, ref("mtp.block_out"));
      check_rel(name + ".mtp.block_out", block_out, want);
      if (std::getenv("DSV4_GOLDEN_ROWS")) {  // per-row deviation, for hunting rounding points
        for (int64_t j = 0; j + 1 < T; ++j) {
          double num = 0, den = 0;
          for (int64_t i = 0; i < row; ++i) {
            const double d = block_out[j * row + i] - want[j * row + i];
            num += d * d;
            den += static_cast<double>(want[j * row + i]) * want[j * row + i];
          }
          fmt::print(out_, "row  mtp.block_out[{}]: rel_rms={:.3e}\n", j, std::sqrt(num / std::max(den, 1e-30)));
        }
      }
      if (has("mtp.logits_last")) {
        DSV4_ASSIGN_OR_RETURN(auto wl, ref("mtp.logits_last"));
        check_rel(name + ".mtp.logits_last", ml, wl);
        // Teacher-forced: the MTP head alone on the reference block output of the last pair.
        std::vector<float> tf(V);
        m_.mtp_head_logits(&want[(T - 2) * row], 1, tf.data());
        check_rel(name + ".mtp.head_teacher_forced", tf, wl);
      }
    }
    return ok_status();
  }

  // Golden compressor state: overlap keeps all 2m rows; plain mode stores the T mod m partial rows.
  Status check_state(const std::string& label, const json& tn, const std::string& key, const model::CompressorState& st) {
    for (const char* part : {"kv_state", "score_state"}) {
      const std::string k = key + "_" + part;
      if (!tn.contains(k)) continue;
      std::vector<int64_t> shape;
      DSV4_ASSIGN_OR_RETURN(auto want, g_.floats(tn[k].get<std::string>(), &shape));
      const auto& mine_all = std::string(part) == "kv_state" ? st.kv : st.score;
      const size_t n = std::min(want.size(), mine_all.size());
      if (shape.size() != 2 || shape[1] != st.width) {
        line(false, fmt::format("{}.{}: golden shape does not match width {}", label, part, st.width));
        continue;
      }
      check_rel(label + "." + part, std::vector<float>(mine_all.begin(), mine_all.begin() + n), want);
    }
    return ok_status();
  }

 private:
  const model::Model& m_;
  const Golden& g_;
  std::FILE* out_;
  std::string dump_dir_;
};

}  // namespace

Result<GoldenSummary> run_golden(const GoldenOptions& opt, std::FILE* out) {
  std::ifstream in(opt.manifest);
  if (!in) return error("{}: cannot open manifest", opt.manifest);
  std::stringstream ss;
  ss << in.rdbuf();
  json man = json::parse(ss.str(), nullptr, false);
  if (man.is_discarded() || !man.is_object() || !man.contains("cases") || !man["cases"].is_array())
    return error("{}: not a golden manifest (need an object with a 'cases' array)", opt.manifest);
  const fs::path base = fs::path(opt.manifest).parent_path();
  const std::string ck = opt.model_dir.empty() ? (base / man.value("checkpoint", "checkpoint")).string() : opt.model_dir;
  Golden g;
  DSV4_ASSIGN_OR_RETURN(g.file, SafetensorsFile::open((base / man.value("golden_file", "goldens.safetensors")).string()));
  std::unique_ptr<dist::Session> session;
  std::unique_ptr<model::Model> model;
  DSV4_TRY(check_not_accidentally_parallel(opt.dist));
  // Under --pp the leader of every later stage first runs the probe cases on the layers it holds
  // and reports to rank 0 (which waits for those reports before it needs the stages), then serves.
  std::vector<Totals> stage_totals;
  if (opt.dist.requested()) {
    dist::share_cores_between_local_ranks();
    DSV4_ASSIGN_OR_RETURN(session, dist::Session::start(ck, opt.dist));
    const dist::Layout& lo = session->layout();
    if (!session->is_root()) {
      const model::Placement p = lo.placement(session->rank());
      if (p.owns_attention) {  // a stage leader (stage > 0)
        char* text = nullptr;
        size_t len = 0;
        std::FILE* mem = open_memstream(&text, &len);
        Runner pr(*session->model(), g, mem, "");
        Status st;
        for (const auto& cs : man["cases"])
          if (st.ok() && cs.value("mode", "") == "probe") st = pr.run_probe(cs);
        if (!st.ok()) pr.line(false, fmt::format("stage {} probe: {}", lo.stage_of(session->rank()), st.message()));
        std::fclose(mem);
        dist::Writer w;
        w.put<double>(pr.totals.worst_layer);
        w.put<double>(pr.totals.decisions);
        w.put<uint8_t>(pr.totals.fail ? 1 : 0);
        w.put_array(text, len);
        std::free(text);
        session->comm()->send(0, dist::kTagReport, w.bytes(), "golden probe report");
      }
      GoldenSummary w;
      w.worker = true;
      w.pass = session->serve() == 0;
      return w;
    }
    for (int s = 1; s < lo.pp; ++s) {
      const auto b = session->comm()->recv(lo.leader_of_stage(s), dist::kTagReport, false, "golden probe report");
      dist::Reader r(b);
      Totals t;
      t.worst_layer = r.get<double>();
      t.decisions = r.get<double>();
      t.fail = r.get<uint8_t>() != 0;
      std::string text(b.size() - 17, '\0');
      r.get_array(text.data(), text.size());
      fmt::print(out, "{}", text);
      stage_totals.push_back(t);
    }
    model = std::move(session->model());
  } else {
    DSV4_ASSIGN_OR_RETURN(model, model::Model::load(ck));
  }
  if (man.contains("vocab_size") && man["vocab_size"].get<int64_t>() != model->config().vocab_size)
    return error("{}: manifest vocab_size {} does not match the model's {}", opt.manifest,
                 man["vocab_size"].get<int64_t>(), model->config().vocab_size);
  Runner r(*model, g, out, opt.dump_dir);
  try {
    for (const auto& cs : man["cases"]) {
      const std::string mode = cs.value("mode", "");
      Status st;
      if (mode == "prefill") st = r.run_prefill(cs);
      else if (mode == "decode") st = r.run_decode(cs);
      else if (mode == "probe") st = r.run_probe(cs);
      else st = error("unknown case mode '{}'", mode);
      if (!st.ok()) return error("{}: case '{}': {}", opt.manifest, cs.value("name", "?"), st.message());
    }
  } catch (const json::exception& e) {
    return error("{}: malformed case: {}", opt.manifest, e.what());
  }
  for (const Totals& st : stage_totals) {
    r.totals.worst_layer = std::max(r.totals.worst_layer, st.worst_layer);
    r.totals.decisions = std::min(r.totals.decisions, st.decisions);
    r.totals.fail = r.totals.fail || st.fail;
  }
  GoldenSummary s;
  const Totals& t = r.totals;
  s.worst_layer_rel_rms = t.worst_layer;
  s.decisions_match = t.decisions;
  s.e2e_rel_rms = t.e2e.rel();
  s.worst_case_rel_rms = t.worst_case;
  s.top1_margin1 = t.top1_rows ? static_cast<double>(t.top1_agree) / t.top1_rows : 1.0;
  s.pass = !t.fail && s.worst_layer_rel_rms <= kLayerTol && s.decisions_match >= kDecisionTol &&
           s.e2e_rel_rms <= kE2eTol && s.worst_case_rel_rms <= kCaseTol && s.top1_margin1 >= kTop1Tol;
  fmt::print(out, "golden: {} worst_layer_rel_rms={:.3e} decisions_match={:.4f} e2e_rel_rms={:.4f} top1_margin1={:.4f}\n",
             s.pass ? "PASS" : "FAIL", s.worst_layer_rel_rms, s.decisions_match, s.e2e_rel_rms, s.top1_margin1);
  return s;
}

}  // namespace dsv4::cli
