#include "report/dump.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

#include "util/error.h"
#include "util/json_reader.h"
#include "util/output_paths.h"

namespace attnsim {

namespace fs = std::filesystem;

namespace {
struct TensorSpec {
  const char* name;
  DType dtype;
  bool prediction;  // only with a prediction unit
  bool per_head;    // shape [layers, groups, ...inner]; else flat CSR values
};
const TensorSpec kTensors[] = {
    {"q", DType::f32, false, true},           {"k", DType::f32, false, true},
    {"v", DType::f32, false, true},           {"q_quant", DType::i8, true, true},
    {"k_quant", DType::i8, true, true},       {"pred_scores", DType::f32, true, true},
    {"pred_probs", DType::f32, true, true},   {"mask_indptr", DType::i32, false, true},
    {"mask_indices", DType::i32, false, false}, {"scores", DType::f32, false, false},
    {"probs", DType::f32, false, false},      {"output", DType::f32, false, true},
};
}  // namespace

bool is_attnsim_dump(const std::string& dir) {
  try {
    const nlohmann::json m = JsonReader::load_file(dir + "/meta.json");
    if (!m.is_object() || m.value("format", nlohmann::json()) != "attnsim-dump") return false;
  } catch (const InputError&) {
    return false;
  }
  // Replacing the folder removes all it holds: only files a dump writes may be there.
  static const std::set<std::string> extra = {"meta.json", "heads.json", "mask_offsets.npy", "quant_scales.npy",
                                              "token_alive.npy", "token_importance.npy", "head_alive.npy",
                                              "head_importance.npy", "row_requantised.npy", "row_top_prob.npy"};
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    bool ours = e.is_regular_file(ec) && extra.count(name);
    for (const auto& t : kTensors) ours = ours || (e.is_regular_file(ec) && name == std::string(t.name) + ".npy");
    if (!ours) return false;
  }
  return !ec;
}

DumpWriter::DumpWriter(const std::string& dir, nlohmann::json meta, DumpContent content, int layers, int groups,
                       int seq, int dim)
    : dir_(without_trailing_separator(dir)), tmp_(dir_ + ".partial." + std::to_string(getpid())), meta_(std::move(meta)), content_(content), with_prediction_(content.prediction),
      layers_(layers), groups_(groups), seq_(seq), dim_(dim) {
  std::error_code ec;
  if (fs::exists(dir_, ec) && !fs::is_empty(dir_, ec) && !is_attnsim_dump(dir_))
    throw InputError(dir, "--dump", "exists and is not an attnsim dump; attnsim replaces only folders it made");
  if (!fs::create_directories(tmp_, ec) || ec) throw InputError(dir, "--dump", "cannot create directory " + tmp_);
  for (const auto& t : kTensors) {
    if (t.prediction && !with_prediction_) continue;
    std::vector<int64_t> inner;
    const std::string n = t.name;
    if (n == "pred_scores" || n == "pred_probs") inner = {seq, seq};
    else if (n == "mask_indptr") inner = {seq + 1};
    else if (t.per_head) inner = {seq, dim};
    files_.push_back(std::make_unique<NpyStreamWriter>(tmp_ + "/" + n + ".npy", t.dtype, inner));
    names_.push_back(n);
  }
}

DumpWriter::~DumpWriter() {
  if (!committed_) {
    files_.clear();
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }
}

NpyStreamWriter* DumpWriter::file(const std::string& name) {
  for (size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == name) return files_[i].get();
  return nullptr;
}

void DumpWriter::add_head(const HeadDump& h) {
  const size_t sd = static_cast<size_t>(seq_) * dim_;
  file("q")->append(h.q->data(), sd);
  file("k")->append(h.k->data(), sd);
  file("v")->append(h.v->data(), sd);
  if (with_prediction_) {
    file("q_quant")->append(h.q_quant->data(), sd);
    file("k_quant")->append(h.k_quant->data(), sd);
    file("pred_scores")->append(h.pred_scores.data(), static_cast<size_t>(seq_) * seq_);
    file("pred_probs")->append(h.pred_probs.data(), static_cast<size_t>(seq_) * seq_);
    quant_scales_.push_back(static_cast<float>(h.q_scale));
    quant_scales_.push_back(static_cast<float>(h.k_scale));
  }
  file("mask_indptr")->append(h.mask.indptr.data(), h.mask.indptr.size());
  file("mask_indices")->append(h.mask.indices.data(), h.mask.indices.size());
  file("scores")->append(h.scores.data(), h.scores.size());
  file("probs")->append(h.probs.data(), h.probs.size());
  file("output")->append(h.output.data(), sd);
  if (content_.pruning) add_pruning(h);
  if (content_.patterns) {
    const int64_t layer = heads_written_ / groups_, group = heads_written_ % groups_;
    nlohmann::json j = {{"layer", layer}, {"group", group}};
    j.update(h.unit_info);
    heads_json_.push_back(j);
  }
  nnz_ += h.mask.nnz();
  offsets_.push_back(nnz_);
  ++heads_written_;
}

void DumpWriter::add_pruning(const HeadDump& h) {
  const nlohmann::json& u = h.unit_info;
  if (!u.contains("tokens_alive") || !u.contains("token_importance") || !u.contains("head_alive"))
    throw std::logic_error("DumpWriter: a pruning dump needs the mask unit's alive sets and importance");
  if (heads_written_ % content_.heads == 0) {  // the batch's token state, once per batch element
    for (const auto& x : u["tokens_alive"]) token_alive_.push_back(static_cast<int8_t>(x.get<int>()));
    for (const auto& x : u["token_importance"]) token_importance_.push_back(x.get<double>());
  }
  head_alive_.push_back(u["head_alive"].get<bool>() ? 1 : 0);
  head_importance_.push_back(u["head_importance"].get<double>());
  for (int i = 0; i < seq_; ++i) {
    const bool known = i < static_cast<int>(h.row_requantised.size());
    row_requantised_.push_back(known ? h.row_requantised[i] : 0);
    row_top_prob_.push_back(i < static_cast<int>(h.row_top_prob.size()) ? h.row_top_prob[i] : 0.f);
  }
}

void DumpWriter::commit() {
  const std::vector<int64_t> outer = {layers_, groups_};
  for (size_t i = 0; i < files_.size(); ++i) {
    const bool per_head = names_[i] != "mask_indices" && names_[i] != "scores" && names_[i] != "probs";
    files_[i]->close(per_head ? outer : std::vector<int64_t>{});
  }
  write_npy(tmp_ + "/mask_offsets.npy", DType::i64, {static_cast<int64_t>(offsets_.size())}, offsets_.data());
  if (with_prediction_)
    write_npy(tmp_ + "/quant_scales.npy", DType::f32, {layers_, groups_, 2}, quant_scales_.data());
  if (content_.pruning) {
    const std::vector<int64_t> tokens = {layers_, content_.batch, seq_}, heads = {layers_, groups_},
                               rows = {layers_, groups_, seq_};
    write_npy(tmp_ + "/token_alive.npy", DType::i8, tokens, token_alive_.data());
    write_npy(tmp_ + "/token_importance.npy", DType::f64, tokens, token_importance_.data());
    write_npy(tmp_ + "/head_alive.npy", DType::i8, heads, head_alive_.data());
    write_npy(tmp_ + "/head_importance.npy", DType::f64, heads, head_importance_.data());
    write_npy(tmp_ + "/row_requantised.npy", DType::i8, rows, row_requantised_.data());
    write_npy(tmp_ + "/row_top_prob.npy", DType::f32, rows, row_top_prob_.data());
  }
  if (content_.patterns) {
    std::ofstream out(tmp_ + "/heads.json");
    out << heads_json_.dump() << "\n";
    if (!out) throw InputError(tmp_ + "/heads.json", "", "write failed");
  }
  meta_["format"] = "attnsim-dump";
  meta_["version"] = 1;
  meta_["layers"] = layers_;
  meta_["groups"] = groups_;
  meta_["seq_len"] = seq_;
  meta_["head_dim"] = dim_;
  meta_["nnz"] = nnz_;
  {
    std::ofstream out(tmp_ + "/meta.json");
    out << meta_.dump(2) << "\n";
    if (!out) throw InputError(tmp_ + "/meta.json", "", "write failed");
  }
  // The earlier dump (checked again: it may have changed since the start) is
  // moved aside, the new one moved in, and only then the old one removed.
  std::error_code ec;
  const std::string old = dir_ + ".old." + std::to_string(getpid());
  if (fs::exists(dir_, ec)) {
    if (!fs::is_empty(dir_, ec) && !is_attnsim_dump(dir_))
      throw InputError(dir_, "--dump", "exists and is not an attnsim dump; attnsim replaces only folders it made");
    fs::rename(dir_, old, ec);
    if (ec) throw InputError(dir_, "--dump", "cannot move the earlier dump aside: " + ec.message());
  }
  fs::rename(tmp_, dir_, ec);
  if (ec) {
    std::error_code back;
    if (fs::exists(old, back)) fs::rename(old, dir_, back);  // the earlier dump back in place
    throw InputError(dir_, "--dump", "cannot move " + tmp_ + " into place: " + ec.message());
  }
  fs::remove_all(old, ec);
  committed_ = true;
}

}  // namespace attnsim
