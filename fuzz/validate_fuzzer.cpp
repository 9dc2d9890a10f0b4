// Fuzzes `attnsim validate` (validate_dirs) on pairs of small dump folders.
// Fuzzing a whole folder as one input would mostly exercise meta.json
// parsing, so each input mutates one file of a valid pair instead:
//   byte 0: which pair (seeds/validate_base/<algorithm>/: dense, sanger,
//           spatten, pattern_detector; its GPU side is made at start-up);
//   byte 1: which file of the pair (sim files, then gpu files, sorted);
//           bit 7 set: delete it instead;
//   rest:   the file's new contents.
// The file is restored after each run. With ATTNSIM_FUZZ_WRITE_SEEDS=DIR the
// target writes one seed per file (its unmutated contents) to DIR at start-up.
// Invariant: an unmutated pair validates as PASS (checked at start-up).
#include <algorithm>
#include <vector>

#include "fuzz_common.h"
#include "validate/validate.h"

namespace {

struct Pair {
  std::string sim, gpu;
  std::vector<std::pair<fuzz::fs::path, std::string>> files;  // path, original bytes
};

std::string read_all(const fuzz::fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void put(const fuzz::fs::path& p, const std::string& bytes) {
  fuzz::write_file(p, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

std::vector<Pair> make_pairs() {
  std::vector<fuzz::fs::path> bases;
  for (const auto& e : fuzz::fs::directory_iterator(ATTNSIM_SOURCE_DIR "/fuzz/seeds/validate_base"))
    if (e.is_directory()) bases.push_back(e.path());
  std::sort(bases.begin(), bases.end());
  std::vector<Pair> pairs;
  for (const auto& base : bases) {
    Pair p;
    const fuzz::fs::path root = fuzz::scratch() / "validate" / base.filename();
    p.sim = (root / "sim").string();
    p.gpu = (root / "gpu").string();
    fuzz::fs::create_directories(p.sim);
    fuzz::fs::create_directories(p.gpu);
    std::vector<fuzz::fs::path> names;
    for (const auto& e : fuzz::fs::directory_iterator(base)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    for (const char* side : {"sim", "gpu"})
      for (const auto& n : names) {
        std::string bytes = read_all(base / n);
        if (std::string(side) == "gpu" && n == "meta.json") {
          const nlohmann::json meta = nlohmann::json::parse(bytes);
          bytes = nlohmann::json{{"format", "attnsim-gpu"}, {"version", 1}, {"algorithm", meta.at("algorithm")},
                                 {"dump_meta", meta}}.dump(1);
        }
        const fuzz::fs::path path = root / side / n;
        put(path, bytes);
        p.files.emplace_back(path, bytes);
      }
    pairs.push_back(std::move(p));
  }
  FUZZ_CHECK(!pairs.empty(), "no dumps in fuzz/seeds/validate_base");
  return pairs;
}

std::vector<Pair>& pairs() {
  static std::vector<Pair> p = make_pairs();
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* seeds = std::getenv("ATTNSIM_FUZZ_WRITE_SEEDS");
  for (size_t i = 0; i < pairs().size(); ++i) {
    const Pair& p = pairs()[i];
    attnsim::Validation v;
    FUZZ_CHECK(fuzz::accepts([&] { v = attnsim::validate_dirs(p.sim, p.gpu); }) && v.pass(),
               "an unmutated pair does not validate: " + p.sim);
    for (size_t f = 0; seeds && f < p.files.size(); ++f) {
      const std::string seed = std::string{static_cast<char>(i), static_cast<char>(f)} + p.files[f].second;
      put(fuzz::fs::path(seeds) / ("base_" + std::to_string(i) + "_" + std::to_string(f)), seed);
    }
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Pair& p = pairs()[data[0] % pairs().size()];
  const auto& [path, original] = p.files[(data[1] & 0x7f) % p.files.size()];
  if (data[1] & 0x80) fuzz::fs::remove(path);
  else fuzz::write_file(path, data + 2, size - 2);
  attnsim::Validation v;
  if (fuzz::accepts([&] { v = attnsim::validate_dirs(p.sim, p.gpu); })) {
    v.to_json();  // the report is written for accepted pairs too
    v.table();
  }
  put(path, original);
  return 0;
}
