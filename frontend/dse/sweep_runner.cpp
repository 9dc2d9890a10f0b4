#include "dse/sweep_runner.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

// The report a finished child wrote, or nullopt with `error` saying why not
// (then its stderr stays in logs/ and its half-written files are removed).
std::optional<nlohmann::json> collect_outcome(const SweepPoint& p, const ChildJob& job, const ChildOutcome& o,
                                              const std::string& out, double timeout_s, std::string* error) {
  const std::string report_file = out + "/" + point_report_path(p.hash);
  std::optional<nlohmann::json> r;
  if (o.ok()) r = read_report(report_file);
  if (r) {
    std::error_code ec;
    fs::remove(job.stderr_file, ec);
    return r;
  }
  const std::string tail = tail_lines(job.stderr_file, 5);
  *error = o.ok() ? "exit code 0 but no readable report" : o.describe(timeout_s) + (tail.empty() ? "" : ": " + tail);
  remove_leftovers(o.pid, report_file, p.functional_class.empty() ? "" : out + "/functional/" + p.functional_class);
  return std::nullopt;
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
                            name.rfind("sweep.json", 0) == 0 || name == "search.json";
    if (!sweep_made)
      throw InputError(out, "--out", "is a folder that is neither empty nor a sweep's output (it holds " + name +
                                         "); attnsim writes only into folders it made");
  }
}

// A folder's marker (OUT/sweep.json, OUT/search.json), which must be attnsim's of `format`.
nlohmann::json read_marker(const std::string& marker, const std::string& format, const std::string& what) {
  nlohmann::json m;
  try {
    m = JsonReader::load_file(marker);
  } catch (const InputError&) {
  }
  if (!m.is_object() || m.value("format", "") != format)
    throw InputError(marker, "format", "not an attnsim " + what + " marker; attnsim writes only into folders it made");
  return m;
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
      const nlohmann::json m = read_marker(marker, "attnsim-sweep", "sweep");
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
    std::string error;
    if (auto r = collect_outcome(p, child_jobs[i], o, out, opt.timeout_s, &error)) {
      reports[p.hash] = std::move(*r);
    } else {
      errors[p.hash] = error;
      if (progress.failed) progress.failed(p, error);
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

namespace {

// A search's output folder (OUT/search.json, written by scripts/search/search.py,
// which checks its space) or a sweep's of this spec (claimed as a sweep claims it).
void claim_points_output(const std::string& out, const SweepSpec& spec) {
  std::error_code ec;
  const std::string marker = out + "/search.json";
  if (fs::exists(marker, ec)) {
    read_marker(marker, "attnsim-search", "search");
  } else {
    claim_output(out, spec);
  }
  for (const auto& d : {out + "/points", out + "/logs", out + "/.locks"}) {
    fs::create_directories(d, ec);
    if (ec) throw InputError(out, "--out", "cannot create " + d + ": " + ec.message());
  }
}

// An exclusive lock on one point while it is evaluated (waits for another
// process evaluating the same point; the kernel drops it if that one dies).
class PointLock {
 public:
  explicit PointLock(const std::string& file) : fd_(open(file.c_str(), O_CREAT | O_RDWR, 0644)) {
    if (fd_ < 0) throw InputError(file, "", "cannot create the point's lock file");
    while (flock(fd_, LOCK_EX) != 0)
      if (errno != EINTR) throw InputError(file, "", "cannot lock the point");
  }
  ~PointLock() { close(fd_); }
  PointLock(const PointLock&) = delete;
  PointLock& operator=(const PointLock&) = delete;

 private:
  int fd_;
};

// A point the arch rejects: it has no effective arch; its hash covers its
// parameters and workload, so that it is recorded like any failed point.
SweepPoint rejected_point(const SweepSpec& spec, const ParamSet& params, int index) {
  SweepPoint p;
  p.index = index;
  p.params = params;
  nlohmann::json inputs = {{"attnsim_version", ATTNSIM_VERSION},
                           {"rejected_params", nlohmann::json::array()},
                           {"workload", spec.workloads[0].content_hash}};
  for (const auto& [path, value] : params) inputs["rejected_params"].push_back({path, value});
  p.hash = hex64(fnv1a(inputs.dump()));
  return p;
}

// The point of `params`, or a rejected one with `error` set.
SweepPoint point_of(const SweepSpec& spec, const ParamSet& params, int index, std::string* error) {
  try {
    return spec.make_point(params, index, "point");
  } catch (const InputError& e) {
    *error = e.what();
    const std::string prefix = spec.file + ": point: ";
    if (error->rfind(prefix, 0) == 0) error->erase(0, prefix.size());
    return rejected_point(spec, params, index);
  }
}

}  // namespace

ParamSet parse_point(const SweepSpec& spec, const nlohmann::json& point, const std::string& file,
                     const std::string& where) {
  if (!point.is_object()) throw InputError(file, where, "expected a JSON object {\"PATH\": VALUE, ...}, got " + point.dump());
  if (!spec.is_search()) {
    ParamSet params;
    for (const auto& [path, value] : point.items()) params.emplace_back(path, value);
    return params;
  }
  for (auto it = point.begin(); it != point.end(); ++it) {
    const std::string& path = it.key();  // not a structured binding: C++17 lambdas cannot capture those
    if (std::none_of(spec.space.begin(), spec.space.end(), [&](const SpaceRange& r) { return r.path == path; }))
      throw InputError(file, where + "[\"" + path + "\"]", "not a parameter of the search space " + spec.file);
  }
  ParamSet params;
  for (const auto& range : spec.space) {
    if (!point.contains(range.path)) continue;
    const nlohmann::json& v = point[range.path];
    bool inside = false;
    if (range.kind == "choices") {
      inside = std::find(range.choices.begin(), range.choices.end(), v) != range.choices.end();
    } else if (range.kind == "int") {
      inside = v.is_number_integer() && v.get<double>() >= range.lo && v.get<double>() <= range.hi &&
               (v.get<int64_t>() - static_cast<int64_t>(range.lo)) % range.step == 0;
    } else {
      inside = v.is_number() && v.get<double>() >= range.lo && v.get<double>() <= range.hi;
    }
    if (!inside)
      throw InputError(file, where + "[\"" + range.path + "\"]",
                       "value " + v.dump() + " is outside space[\"" + range.path + "\"]");
    params.emplace_back(range.path, v);
  }
  return params;
}

std::vector<nlohmann::json> evaluate_points(const SweepSpec& spec, const std::vector<ParamSet>& points,
                                            const SweepOptions& opt) {
  const std::string& out = opt.out;
  if (out.empty()) throw InputError("", "--out", "expected an output folder");
  claim_points_output(out, spec);
  std::vector<nlohmann::json> entries;
  for (size_t i = 0; i < points.size(); ++i) {
    std::string error;
    const SweepPoint p = point_of(spec, points[i], static_cast<int>(i), &error);
    std::optional<nlohmann::json> report;
    bool reused = false;
    if (error.empty()) {
      const PointLock lock(out + "/.locks/" + p.hash);
      report = read_report(out + "/" + point_report_path(p.hash));
      reused = report.has_value();
      if (!report) {
        ChildJob job;
        job.argv = {opt.executable};
        for (auto& a : spec.run_args(p, out + "/" + point_report_path(p.hash), opt.reuse ? out + "/functional" : ""))
          job.argv.push_back(std::move(a));
        if (opt.allow_large) job.argv.push_back("--allow-large");
        job.stderr_file = out + "/logs/" + p.hash + ".stderr";
        job.timeout_s = opt.timeout_s;
        run_jobs({job}, 1, [&](size_t, const ChildOutcome& o) { report = collect_outcome(p, job, o, out, opt.timeout_s, &error); });
      }
    }
    nlohmann::json e = point_entry(spec, p, report ? &*report : nullptr, error, spec.objectives);
    e["host"]["reused"] = reused;
    entries.push_back(std::move(e));
  }
  return entries;
}

SweepResult summarize_points(const SweepSpec& spec, const std::string& list_file, const std::string& out) {
  if (out.empty()) throw InputError("", "--out", "expected an output folder");
  const nlohmann::json list = JsonReader::load_file(list_file);
  JsonReader r(list, list_file);
  const auto& items = r.raw("points");
  if (!items.is_array()) r.fail("points", "expected an array of {\"params\": {...}, \"error\": null|TEXT, \"trial\": N}");
  nlohmann::json host = r.has("host") ? r.raw("host") : nlohmann::json::object();
  r.finish();
  claim_points_output(out, spec);
  SummaryParts parts{spec.json, spec.parameters, spec.objectives, {}};
  SweepResult res;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string where = "points[" + std::to_string(i) + "]";
    JsonReader item(items[i], list_file, where);
    const ParamSet params = parse_point(spec, item.raw("params"), list_file, where + ".params");
    const nlohmann::json& given_error = item.has("error") ? item.raw("error") : nlohmann::json();
    if (!given_error.is_null() && !given_error.is_string()) item.fail("error", "expected null or a text");
    const int64_t trial = item.integer("trial", static_cast<int64_t>(i), 0, INT64_MAX);
    item.finish();
    std::string error;
    const SweepPoint p = point_of(spec, params, static_cast<int>(i), &error);
    if (error.empty() && given_error.is_string()) error = given_error.get<std::string>();
    std::optional<nlohmann::json> report;
    if (error.empty()) {
      report = read_report(out + "/" + point_report_path(p.hash));
      if (!report) error = "no complete report at " + point_report_path(p.hash);
    }
    if (report) res.cache_hits += report->value("/simulator/functional_cache_hits"_json_pointer, int64_t{0});
    nlohmann::json e = point_entry(spec, p, report ? &*report : nullptr, error, spec.objectives);
    e["host"]["trial"] = trial;
    parts.points.push_back(std::move(e));
  }
  res.summary = make_summary(parts, &res.warnings);
  host["spec_file"] = spec.file;
  res.summary["host"] = host;
  res.points = parts.points.size();
  res.failed = res.summary["counts"]["failed"].get<int>();
  write_summary(out, res.summary);
  res.written = out + "/summary.csv";
  return res;
}

}  // namespace attnsim
