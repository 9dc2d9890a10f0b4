#include "workload/workload.h"

#include <cmath>
#include <functional>
#include <filesystem>

#include "util/error.h"
#include "util/hash.h"
#include "util/json_reader.h"
#include "util/npy.h"

namespace attnsim {

namespace fs = std::filesystem;

WorkloadSpec WorkloadSpec::load(const std::string& file) {
  const auto base = fs::path(file).parent_path().string();
  return from_json(JsonReader::load_file(file), file, base);
}

WorkloadSpec WorkloadSpec::from_json(const nlohmann::json& j, const std::string& file, const std::string& base_dir) {
  WorkloadSpec w;
  w.file = file;
  JsonReader r(j, file);
  w.name = r.string("name", std::nullopt);
  w.description = r.string("description", "");
  w.layers = static_cast<int>(r.integer("layers", std::nullopt, 1, 1024));
  w.heads = static_cast<int>(r.integer("heads", std::nullopt, 1, 1024));
  w.seq_len = static_cast<int>(r.integer("seq_len", std::nullopt, 1, 1 << 20));
  w.head_dim = static_cast<int>(r.integer("head_dim", std::nullopt, 1, 1024));
  w.batch = static_cast<int>(r.integer("batch", 1, 1, 4096));
  w.causal = r.boolean("causal", false);
  auto d = r.object("data");
  w.data_kind = d.string("kind", std::nullopt, {"synthetic", "npy", "long_context", "multimodal"});
  // --- DynamiQK data kinds (functional/workload/long_context.h, multimodal.h) ---
  if (w.data_kind == "long_context" || w.data_kind == "multimodal") {
    if (!w.causal) r.fail("causal", "data kind \"" + w.data_kind + "\" is causal attention: set \"causal\": true");
    if (w.data_kind == "long_context")
      read_long_context(d, w.seq_len, w.head_dim, w.long_context);
    else
      read_multimodal(d, w.seq_len, w.multimodal);
  // --- end DynamiQK data kinds ---
  } else if (w.data_kind == "synthetic") {
    auto& s = w.synthetic;
    s.seed = static_cast<uint64_t>(d.integer("seed", 1, 0, INT64_MAX));
    s.sink_tokens = static_cast<int>(d.integer("sink_tokens", s.sink_tokens, 0, w.seq_len));
    s.sink_strength = d.number("sink_strength", s.sink_strength, 0, 100);
    s.local_window = static_cast<int>(d.integer("local_window", s.local_window, 1, 1 << 20));
    s.local_strength = d.number("local_strength", s.local_strength, 0, 100);
    s.clusters = static_cast<int>(d.integer("clusters", s.clusters, 1, 1 << 16));
    s.phrase_len = static_cast<int>(d.integer("phrase_len", s.phrase_len, 1, 1 << 20));
    s.content_strength = d.number("content_strength", s.content_strength, 0, 100);
    s.key_norm_sigma = d.number("key_norm_sigma", s.key_norm_sigma, 0, 5);
    s.noise = d.number("noise", s.noise, 0, 100);
    s.value_mean = d.number("value_mean", s.value_mean, 0, 100);
  } else {
    auto path = [&](const char* key) {
      const fs::path p = d.string(key, std::nullopt);
      return (p.is_absolute() || base_dir.empty() ? p : fs::path(base_dir) / p).lexically_normal().string();
    };
    w.q_path = path("q");
    w.k_path = path("k");
    w.v_path = path("v");
  }
  d.finish();
  r.finish();
  return w;
}

nlohmann::json WorkloadSpec::to_json() const {
  nlohmann::json j = {{"name", name},        {"layers", layers},     {"heads", heads},
                      {"seq_len", seq_len},  {"head_dim", head_dim}, {"batch", batch},
                      {"causal", causal}};
  if (!description.empty()) j["description"] = description;
  if (simulated_layers() != layers) j["layers_simulated"] = simulated_layers();
  if (data_kind == "synthetic") {
    const auto& s = synthetic;
    j["data"] = {{"kind", "synthetic"},         {"seed", s.seed},
                 {"sink_tokens", s.sink_tokens}, {"sink_strength", s.sink_strength},
                 {"local_window", s.local_window}, {"local_strength", s.local_strength},
                 {"clusters", s.clusters},       {"phrase_len", s.phrase_len},
                 {"content_strength", s.content_strength}, {"key_norm_sigma", s.key_norm_sigma},
                 {"noise", s.noise},             {"value_mean", s.value_mean}};
  } else if (data_kind == "long_context") {  // DynamiQK
    j["data"] = long_context_to_json(long_context);
  } else if (data_kind == "multimodal") {  // DynamiQK
    j["data"] = multimodal_to_json(multimodal);
  } else {
    // File names only: reports must not depend on where the checkout lives.
    j["data"] = {{"kind", "npy"},
                 {"q", fs::path(q_path).filename().string()},
                 {"k", fs::path(k_path).filename().string()},
                 {"v", fs::path(v_path).filename().string()}};
  }
  return j;
}

std::string WorkloadSpec::data_hash() const {
  if (data_kind != "npy" || !data_hash_memo.empty()) return data_hash_memo;
  uint64_t h = kFnvOffset;
  for (const auto& f : {q_path, k_path, v_path})
    if (!fnv1a_file(f, h)) throw InputError(file, "data", "cannot read " + f);
  return data_hash_memo = hex64(h);
}

double WorkloadSpec::scale() const { return 1.0 / std::sqrt(static_cast<double>(head_dim)); }

namespace {

// A source whose heads a generator computes from (batch, layer, head).
class GeneratedSource : public WorkloadSource {
 public:
  using Generate = std::function<void(int b, int l, int h, HeadTensors& out)>;
  GeneratedSource(int heads, Generate generate) : heads_(heads), generate_(std::move(generate)) {}
  std::vector<HeadTensors> layer(int b, int l) override {
    std::vector<HeadTensors> out(heads_);
    for (int h = 0; h < heads_; ++h) generate_(b, l, h, out[h]);
    return out;
  }
  HeadTensors head(int b, int l, int h) override {
    HeadTensors out;
    generate_(b, l, h, out);
    return out;
  }

 private:
  int heads_;
  Generate generate_;
};

class NpySource : public WorkloadSource {
 public:
  explicit NpySource(const WorkloadSpec& s) : s_(s) {
    std::vector<int64_t> expected;
    if (s.batch > 1) expected.push_back(s.batch);
    expected.insert(expected.end(), {s.layers, s.heads, s.seq_len, s.head_dim});
    for (const auto* p : {&s.q_path, &s.k_path, &s.v_path}) {
      if (!fs::exists(*p)) throw InputError(s.file, "data", "tensor file '" + *p + "' does not exist");
      NpyHeader h = read_npy_header(*p);
      if (h.shape != expected) {
        auto str = [](const std::vector<int64_t>& v) {
          std::string r = "[";
          for (size_t i = 0; i < v.size(); ++i) r += (i ? ", " : "") + std::to_string(v[i]);
          return r + "]";
        };
        throw InputError(*p, "shape", "is " + str(h.shape) + ", expected " + str(expected) +
                                          (s.batch > 1 ? " [batch, layers, heads, seq_len, head_dim]"
                                                       : " [layers, heads, seq_len, head_dim]") +
                                          " from " + s.file);
      }
      // Checks dtype and NaN/Inf now, a head at a time (bounded memory).
      const int64_t per_head = static_cast<int64_t>(s.seq_len) * s.head_dim;
      for (int64_t first = 0; first < h.count(); first += per_head) read_npy_floats(*p, h, first, per_head);
      headers_.push_back(h);
    }
  }
  std::vector<HeadTensors> layer(int b, int l) override {
    const int64_t per_head = static_cast<int64_t>(s_.seq_len) * s_.head_dim;
    const int64_t first = ((static_cast<int64_t>(b) * s_.layers + l) * s_.heads) * per_head;
    std::vector<HeadTensors> out(s_.heads);
    const std::string* paths[3] = {&s_.q_path, &s_.k_path, &s_.v_path};
    for (int t = 0; t < 3; ++t) {
      const auto data = read_npy_floats(*paths[t], headers_[t], first, per_head * s_.heads);
      for (int h = 0; h < s_.heads; ++h) {
        MatF& m = t == 0 ? out[h].q : t == 1 ? out[h].k : out[h].v;
        m = Eigen::Map<const MatF>(data.data() + h * per_head, s_.seq_len, s_.head_dim);
      }
    }
    return out;
  }
  HeadTensors head(int b, int l, int h) override {
    const int64_t per_head = static_cast<int64_t>(s_.seq_len) * s_.head_dim;
    const int64_t first = ((static_cast<int64_t>(b) * s_.layers + l) * s_.heads + h) * per_head;
    HeadTensors out;
    const std::string* paths[3] = {&s_.q_path, &s_.k_path, &s_.v_path};
    for (int t = 0; t < 3; ++t) {
      const auto data = read_npy_floats(*paths[t], headers_[t], first, per_head);
      (t == 0 ? out.q : t == 1 ? out.k : out.v) = Eigen::Map<const MatF>(data.data(), s_.seq_len, s_.head_dim);
    }
    return out;
  }

 private:
  WorkloadSpec s_;
  std::vector<NpyHeader> headers_;
};


}  // namespace

std::unique_ptr<WorkloadSource> open_source(const WorkloadSpec& spec) {
  if (spec.data_kind == "npy") return std::make_unique<NpySource>(spec);
  const int S = spec.seq_len, d = spec.head_dim;
  GeneratedSource::Generate generate;
  if (spec.data_kind == "long_context") {  // DynamiQK
    generate = [p = spec.long_context, S, d](int b, int l, int h, HeadTensors& o) {
      generate_long_context_head(p, S, d, b, l, h, o.q, o.k, o.v);
    };
  } else if (spec.data_kind == "multimodal") {  // DynamiQK
    generate = [p = spec.multimodal, segs = SegmentMap(spec.multimodal.segments, S), d](int b, int l, int h,
                                                                                         HeadTensors& o) {
      generate_multimodal_head(p, segs, d, b, l, h, o.q, o.k, o.v);
    };
  } else {
    generate = [p = spec.synthetic, S, d](int b, int l, int h, HeadTensors& o) {
      generate_head(p, S, d, b, l, h, o.q, o.k, o.v);
    };
  }
  return std::make_unique<GeneratedSource>(spec.heads, std::move(generate));
}

}  // namespace attnsim
