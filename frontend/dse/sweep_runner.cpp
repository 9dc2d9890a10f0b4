#include "dse/sweep_runner.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "dse/process_pool.h"
#include "dse/sweep_summary.h"
#include "report/report.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/json_reader.h"

namespace attnsim {

namespace {

namespace fs = std::filesystem;

// An exclusive lock on a file in OUT while the sweep runs (the kernel drops it
// when the process dies, even by kill -9). Released on return, so that one
// process can run several sweeps into one folder in turn.
class OutputLock {
 public:
  explicit OutputLock(const std::string& file) : fd_(open(file.c_str(), O_CREAT | O_RDWR, 0644)) {
    if (fd_ < 0 || flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      if (fd_ >= 0) close(fd_);
      throw InputError(file, "", "another attnsim sweep is writing this output folder");
    }
  }
  ~OutputLock() { close(fd_); }
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

 private:
  int fd_;
};

// A report of an earlier run, if it is complete.
std::optional<nlohmann::json> read_report(const std::string& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  try {
    nlohmann::json r = JsonReader::load_file(file);
    if (r.is_object() && r.contains("total")) return r;
  } catch (const InputError&) {
  }
  return std::nullopt;
}

// Removes what a failed child (process `pid`) left half-written: its
// temporary report and functional-cache files.
void remove_leftovers(int pid, const std::string& report_file, const std::string& cache_class_dir) {
  const std::string suffix = ".tmp" + std::to_string(pid);
  std::error_code ec;
  fs::remove(report_file + suffix, ec);
  if (cache_class_dir.empty() || !fs::is_directory(cache_class_dir, ec)) return;
  for (const auto& e : fs::directory_iterator(cache_class_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      fs::remove(e.path(), ec);
  }
}

// A folder without a marker may hold only what a sweep makes (shards of one
// sweep start together: another's marker may be appearing; scripts/slurm_sweep.sh
// logs into logs/).
void require_sweep_folder(const std::string& out) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(out, ec)) {
    const std::string name = e.path().filename().string();
    const bool sweep_made = name == "points" || name == "logs" || name == "functional" || name == "summary.csv" ||
                            name == "summary.json" || name.rfind("summary.", 0) == 0 || name.rfind(".lock", 0) == 0 ||
                            name.rfind("sweep.json", 0) == 0;
    if (!sweep_made)
      throw InputError(out, "--out", "is a folder that is neither empty nor a sweep's output (it holds " + name +
                                         "); attnsim writes only into folders it made");
  }
}

// OUT is absent, empty, or the output of a sweep of this same spec (resumed):
// attnsim never writes into a folder it did not make, and never mixes the
// points of two specs in one. OUT/sweep.json names the spec it belongs to.
void claim_output(const std::string& out, const SweepSpec& spec) {
  std::error_code ec;
  const std::string marker = out + "/sweep.json";
  const std::string spec_hash = hex64(fnv1a(spec.json.dump()));
  if (fs::exists(out, ec)) {
    if (!fs::is_directory(out, ec)) throw InputError(out, "--out", "is a file, expected a folder");
    if (fs::exists(marker, ec)) {
      nlohmann::json m;
      try {
        m = JsonReader::load_file(marker);
      } catch (const InputError&) {
      }
      if (!m.is_object() || m.value("format", "") != "attnsim-sweep")
        throw InputError(marker, "format", "not an attnsim sweep marker; attnsim writes only into folders it made");
      if (m.value("spec_hash", "") != spec_hash)
        throw InputError(out, "--out",
                         "holds the points of another sweep spec (" + m.value("spec_file", std::string("?")) +
                             "); choose another --out (points/ can be copied over to reuse its reports)");
      return;
    }
    require_sweep_folder(out);  // no marker: a new folder, or one of an attnsim before markers
  }
  fs::create_directories(out, ec);
  if (ec) throw InputError(out, "--out", "cannot create the folder: " + ec.message());
  write_json_atomic(marker, {{"format", "attnsim-sweep"}, {"spec_file", spec.file}, {"spec_hash", spec_hash}});
}

// CPU time of the children waited for so far.
double children_cpu_s() {
  struct rusage u {};
  getrusage(RUSAGE_CHILDREN, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void write_summary(const std::string& out, const nlohmann::json& summary) {
  write_text_atomic(out + "/summary.csv", summary_csv(summary));
  write_json_atomic(out + "/summary.json", summary);
}

}  // namespace

Shard parse_shard(const std::string& text) {
  Shard s;
  const auto slash = text.find('/');
  try {
    size_t a = 0, b = 0;
    if (slash == std::string::npos) throw std::invalid_argument("no slash");
    s.index = std::stoi(text.substr(0, slash), &a);
    s.count = std::stoi(text.substr(slash + 1), &b);
    if (a != slash || b != text.size() - slash - 1) throw std::invalid_argument("trailing text");
  } catch (const std::exception&) {
    throw InputError("", "--shard", "expected I/N (e.g. 0/4), got '" + text + "'");
  }
  if (s.count < 1 || s.index < 0 || s.index >= s.count)
    throw InputError("", "--shard", "expected 0 <= I < N, got '" + text + "'");
  return s;
}

std::vector<const SweepPoint*> shard_points(const SweepSpec& spec, const Shard& shard) {
  std::vector<const SweepPoint*> mine;
  for (const auto& p : spec.points)
    if (p.index % shard.count == shard.index) mine.push_back(&p);
  return mine;
}

SweepResult run_sweep(const SweepSpec& spec, const SweepOptions& opt, const SweepProgress& progress) {
  const std::string& out = opt.out;
  const Shard& shard = opt.shard;
  if (out.empty()) throw InputError("", "--out", "expected an output folder");
  const std::vector<const SweepPoint*> mine = shard_points(spec, shard);
  claim_output(out, spec);
  const std::string points_dir = out + "/points", logs_dir = out + "/logs", cache_dir = out + "/functional";
  for (const auto& d : {points_dir, logs_dir}) {
    std::error_code ec;
    fs::create_directories(d, ec);
    if (ec) throw InputError(out, "--out", "cannot create " + d + ": " + ec.message());
  }
  const OutputLock lock(out + (shard.count > 1 ? "/.lock." + shard_summary_name(shard.index, shard.count) : "/.lock"));

  // Each distinct point once; reports of an earlier run are kept.
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start_s = children_cpu_s();
  std::map<std::string, nlohmann::json> reports;  // hash -> report
  std::map<std::string, std::string> errors;      // hash -> why it failed
  std::vector<ChildJob> child_jobs;
  std::vector<const SweepPoint*> job_points;
  std::set<std::string> seen;
  SweepResult res;
  for (const auto* p : mine) {
    if (!seen.insert(p->hash).second) continue;
    if (auto r = read_report(out + "/" + point_report_path(p->hash))) {
      reports[p->hash] = std::move(*r);
      ++res.found;
      continue;
    }
    ChildJob job;
    job.argv = {opt.executable};
    for (auto& a : spec.run_args(*p, out + "/" + point_report_path(p->hash), opt.reuse ? cache_dir : ""))
      job.argv.push_back(std::move(a));
    if (opt.allow_large) job.argv.push_back("--allow-large");
    job.stderr_file = logs_dir + "/" + p->hash + ".stderr";
    job.timeout_s = opt.timeout_s;
    if (opt.reuse) job.group = p->functional_class;
    child_jobs.push_back(std::move(job));
    job_points.push_back(p);
  }

  const int total = static_cast<int>(child_jobs.size());
  int ended = 0;
  if (progress.update) progress.update(0, total);
  run_jobs(child_jobs, opt.workers, [&](size_t i, const ChildOutcome& o) {
    const SweepPoint& p = *job_points[i];
    const std::string report_file = out + "/" + point_report_path(p.hash);
    std::optional<nlohmann::json> r;
    if (o.ok()) r = read_report(report_file);
    if (r) {
      reports[p.hash] = std::move(*r);
      fs::remove(child_jobs[i].stderr_file);
    } else {
      const std::string tail = tail_lines(child_jobs[i].stderr_file, 5);
      errors[p.hash] =
          o.ok() ? "exit code 0 but no readable report" : o.describe(opt.timeout_s) + (tail.empty() ? "" : ": " + tail);
      remove_leftovers(o.pid, report_file, p.functional_class.empty() ? "" : cache_dir + "/" + p.functional_class);
      if (progress.failed) progress.failed(p, errors[p.hash]);
    }
    if (progress.update) progress.update(++ended, total);
  });

  SummaryParts parts{spec.json, spec.parameters, spec.objectives, {}};
  for (const auto* p : mine) {
    const auto r = reports.find(p->hash);
    parts.points.push_back(point_entry(spec, *p, r == reports.end() ? nullptr : &r->second,
                                       r == reports.end() ? errors[p->hash] : "", spec.objectives));
  }
  for (const auto& [hash, r] : reports)
    res.cache_hits += r.value("/simulator/functional_cache_hits"_json_pointer, int64_t{0});
  res.summary = make_summary(parts, &res.warnings);
  res.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  res.points = mine.size();
  res.distinct = seen.size();
  res.run = child_jobs.size();
  res.summary["host"] = {{"spec_file", spec.file},
                         {"wall_time_s", res.wall_s},
                         {"cpu_time_s", children_cpu_s() - cpu_start_s},
                         {"workers", opt.workers},
                         {"reuse", opt.reuse},
                         {"points_run", res.run},
                         {"points_found", res.found},
                         {"functional_cache_hits", res.cache_hits}};
  res.failed = res.summary["counts"]["failed"].get<int>();
  if (shard.count > 1) {
    res.summary["pareto"] = nlohmann::json::array();  // only meaningful once merged
    res.summary["shard"] = {{"index", shard.index}, {"count", shard.count}, {"points_total", spec.points.size()}};
    res.written = out + "/" + shard_summary_name(shard.index, shard.count);
    write_json_atomic(res.written, res.summary);
  } else {
    write_summary(out, res.summary);
    res.written = out + "/summary.csv";
  }
  return res;
}

MergeResult merge_sweeps(const std::vector<std::string>& dirs, const std::string& out_dir) {
  MergeResult res;
  res.out = out_dir.empty() ? dirs.front() : out_dir;
  const std::string& out = res.out;
  std::error_code ec;
  if (fs::exists(out, ec)) require_sweep_folder(out);
  std::vector<std::string> point_dirs;
  SummaryParts parts = merge_shards(dirs, &res.shard_files, &point_dirs);
  // Gather the reports into OUT so that it stands alone.
  fs::create_directories(fs::path(out) / "points");
  for (size_t i = 0; i < parts.points.size(); ++i) {
    const auto& report = parts.points[i]["report"];
    if (report.is_null()) continue;
    const fs::path src = fs::path(point_dirs[i]) / report.get<std::string>(), dst = fs::path(out) / report.get<std::string>();
    std::error_code ec;
    if (fs::exists(dst, ec) || fs::equivalent(src, dst, ec)) continue;
    if (!fs::exists(src, ec)) throw InputError(src.string(), "", "report of point " + parts.points[i]["index"].dump() + " is missing");
    const fs::path tmp = dst.string() + ".tmp" + std::to_string(getpid());
    fs::copy_file(src, tmp, fs::copy_options::overwrite_existing);
    fs::rename(tmp, dst);
  }
  res.summary = make_summary(parts, &res.warnings);
  res.summary["host"] = {{"merged_from", res.shard_files}};
  write_summary(out, res.summary);
  res.points = parts.points.size();
  res.failed = res.summary["counts"]["failed"].get<int>();
  return res;
}

}  // namespace attnsim
