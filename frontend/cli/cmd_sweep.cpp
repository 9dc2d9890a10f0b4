// attnsim sweep: runs every point of a sweep spec in its own `attnsim run`
// process (docs/dse.md), resumable, shardable, with a summary and Pareto front.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "dse/process_pool.h"
#include "dse/sweep_spec.h"
#include "dse/sweep_summary.h"
#include "report/report.h"
#include "util/hash.h"
#include "util/json_reader.h"

namespace attnsim {

namespace {

namespace fs = std::filesystem;

struct Shard {
  int index = 0, count = 1;
};

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

// An exclusive lock on a file in OUT for as long as the process lives (the
// kernel drops it when the process dies, even by kill -9).
void lock_output(const std::string& file) {
  const int fd = open(file.c_str(), O_CREAT | O_RDWR, 0644);
  if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0)
    throw InputError(file, "", "another attnsim sweep is writing this output folder");
}

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

// Runs the jobs under a progress bar, which ends its line when they are done.
void run_with_progress(const std::vector<ChildJob>& jobs, int workers, bool quiet,
                       const std::function<void(size_t, const ChildOutcome&)>& done) {
  ProgressBar bar("sweep", quiet);
  const int total = static_cast<int>(jobs.size());
  int ended = 0;
  bar.update(0, total);
  run_jobs(jobs, workers, [&](size_t i, const ChildOutcome& o) {
    done(i, o);
    bar.update(++ended, total);
  });
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

void print_front(const nlohmann::json& summary) {
  std::string objectives;
  for (const auto& o : summary["objectives"])
    if (o["used"].get<bool>())
      objectives += (objectives.empty() ? "" : ", ") + o["metric"].get<std::string>() + " " + o["goal"].get<std::string>();
  if (objectives.empty()) return;
  std::cout << "Pareto front (" << objectives << "; per workload):\n" << pareto_table(summary);
}

int merge(const std::vector<std::string>& dirs, std::string out, bool quiet) {
  if (out.empty()) out = dirs.front();
  std::error_code ec;
  if (fs::exists(out, ec)) require_sweep_folder(out);
  std::vector<std::string> files, point_dirs;
  SummaryParts parts = merge_shards(dirs, &files, &point_dirs);
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
  std::vector<std::string> warnings;
  nlohmann::json summary = make_summary(parts, &warnings);
  summary["host"] = {{"merged_from", files}};
  write_summary(out, summary);
  const int failed = summary["counts"]["failed"].get<int>();
  if (!quiet) {
    for (const auto& w : warnings) std::cerr << "attnsim sweep: warning: " << w << "\n";
    std::cout << "merged " << files.size() << " shard summaries: " << parts.points.size() << " points, " << failed
              << " failed; summary: " << out << "/summary.csv\n";
    print_front(summary);
  }
  return failed ? 1 : 0;
}

}  // namespace

int cmd_sweep(int argc, char** argv) {
  po::options_description desc("attnsim sweep options");
  std::vector<std::string> inputs;
  std::string out, shard_text = "0/1";
  int jobs = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  desc.add_options()
      ("help,h", "print this help")
      ("inputs", po::value(&inputs)->multitoken(), "the sweep spec JSON (with --merge: sweep output folders)")
      ("out,o", po::value(&out), "output folder: points/<hash>.json, summary.csv, summary.json (created)")
      ("jobs,j", po::value(&jobs), "points run at once (default: the number of cores)")
      ("timeout", po::value<double>(), "per-point time limit in seconds (overrides the spec's timeout_s)")
      ("no-reuse", "do not share masks and accuracy between points (no --functional-cache)")
      ("shard", po::value(&shard_text), "run only points with index % N == I, writing summary.shard-I-of-N.json")
      ("merge", "join the shard summaries of the given folders into summary.csv/json (in --out, default the first)")
      ("dry-run", "validate the spec and list its points without running them")
      ("max-points", po::value<int64_t>()->default_value(SweepSpec::kDefaultMaxPoints),
       "refuse a spec that expands to more points (counted before they are built)")
      ("allow-large", "pass --allow-large to every point (attnsim run: skip the up-front size estimate)")
      ("quiet,q", "no progress bar and no tables");
  po::positional_options_description pos;
  pos.add("inputs", -1);
  po::variables_map vm;
  if (!parse_options(argc, argv,
                     "usage: attnsim sweep SPEC.json --out DIR [-j N] [--shard I/N] [--no-reuse]\n"
                     "       attnsim sweep --merge DIR... [--out DIR]",
                     desc, &pos, vm))
    return 0;
  const bool quiet = vm.count("quiet") > 0, reuse = !vm.count("no-reuse");
  if (inputs.empty()) throw InputError("", "command line", "expected a sweep spec (see --help)");
  if (vm.count("merge")) return merge(inputs, out, quiet);
  if (inputs.size() != 1) throw InputError("", "command line", "expected one sweep spec, got " + std::to_string(inputs.size()));
  if (jobs < 1) throw InputError("", "--jobs", "expected at least 1");
  const Shard shard = parse_shard(shard_text);

  // Everything is validated before anything is written.
  const int64_t max_points = vm["max-points"].as<int64_t>();
  if (max_points < 1) throw InputError("", "--max-points", "expected at least 1");
  const SweepSpec spec = SweepSpec::load(inputs[0], max_points);
  double timeout_s = spec.timeout_s;
  if (vm.count("timeout")) {
    timeout_s = vm["timeout"].as<double>();
    if (!(timeout_s > 0)) throw InputError("", "--timeout", "expected a positive number of seconds");
  }
  std::vector<const SweepPoint*> mine;
  for (const auto& p : spec.points)
    if (p.index % shard.count == shard.index) mine.push_back(&p);
  if (vm.count("dry-run")) {
    std::set<std::string> hashes, classes;
    for (const auto* p : mine) {
      hashes.insert(p->hash);
      if (!p->functional_class.empty()) classes.insert(p->functional_class);
      std::cout << p->index << "  " << p->hash << "  " << spec.workloads[p->workload].spec.name << "  "
                << describe(p->params) << "\n";
    }
    std::cout << mine.size() << " points, " << hashes.size() << " distinct, " << classes.size()
              << " functional classes\n";
    return 0;
  }
  if (out.empty()) throw InputError("", "--out", "expected an output folder");
  claim_output(out, spec);
  const std::string points_dir = out + "/points", logs_dir = out + "/logs", cache_dir = out + "/functional";
  for (const auto& d : {points_dir, logs_dir}) {
    std::error_code ec;
    fs::create_directories(d, ec);
    if (ec) throw InputError(out, "--out", "cannot create " + d + ": " + ec.message());
  }
  lock_output(out + (shard.count > 1 ? "/.lock." + shard_summary_name(shard.index, shard.count) : "/.lock"));

  // Each distinct point once; reports of an earlier run are kept.
  const auto start = std::chrono::steady_clock::now();
  std::map<std::string, nlohmann::json> reports;  // hash -> report
  std::map<std::string, std::string> errors;      // hash -> why it failed
  std::vector<ChildJob> child_jobs;
  std::vector<const SweepPoint*> job_points;
  std::set<std::string> seen;
  int found = 0;
  const std::string exe = self_executable();
  for (const auto* p : mine) {
    if (!seen.insert(p->hash).second) continue;
    if (auto r = read_report(out + "/" + point_report_path(p->hash))) {
      reports[p->hash] = std::move(*r);
      ++found;
      continue;
    }
    ChildJob job;
    job.argv = {exe};
    for (auto& a : spec.run_args(*p, out + "/" + point_report_path(p->hash), reuse ? cache_dir : ""))
      job.argv.push_back(std::move(a));
    if (vm.count("allow-large")) job.argv.push_back("--allow-large");
    job.stderr_file = logs_dir + "/" + p->hash + ".stderr";
    job.timeout_s = timeout_s;
    if (reuse) job.group = p->functional_class;
    child_jobs.push_back(std::move(job));
    job_points.push_back(p);
  }

  run_with_progress(child_jobs, jobs, quiet, [&](size_t i, const ChildOutcome& o) {
    const SweepPoint& p = *job_points[i];
    const std::string report_file = out + "/" + point_report_path(p.hash);
    std::optional<nlohmann::json> r;
    if (o.ok()) r = read_report(report_file);
    if (r) {
      reports[p.hash] = std::move(*r);
      fs::remove(child_jobs[i].stderr_file);
      return;
    }
    const std::string tail = tail_lines(child_jobs[i].stderr_file, 5);
    errors[p.hash] = o.ok() ? "exit code 0 but no readable report" : o.describe(timeout_s) + (tail.empty() ? "" : ": " + tail);
    remove_leftovers(o.pid, report_file, p.functional_class.empty() ? "" : cache_dir + "/" + p.functional_class);
    if (!quiet)
      std::cerr << (isatty(STDERR_FILENO) ? "\n" : "") << "attnsim sweep: point " << p.index << " ("
                << describe(p.params) << ", " << spec.workloads[p.workload].spec.name << ") failed: " << errors[p.hash]
                << "\n";
  });

  SummaryParts parts{spec.json, spec.parameters, spec.objectives, {}};
  int64_t cache_hits = 0;
  for (const auto* p : mine) {
    const auto r = reports.find(p->hash);
    parts.points.push_back(point_entry(spec, *p, r == reports.end() ? nullptr : &r->second,
                                       r == reports.end() ? errors[p->hash] : "", spec.objectives));
  }
  for (const auto& [hash, r] : reports) cache_hits += r.value("/simulator/functional_cache_hits"_json_pointer, int64_t{0});
  std::vector<std::string> warnings;
  nlohmann::json summary = make_summary(parts, &warnings);
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary["host"] = {{"spec_file", spec.file},
                     {"wall_time_s", wall_s},
                     {"cpu_time_s", children_cpu_s()},
                     {"workers", jobs},
                     {"reuse", reuse},
                     {"points_run", child_jobs.size()},
                     {"points_found", found},
                     {"functional_cache_hits", cache_hits}};
  const int failed = summary["counts"]["failed"].get<int>();
  std::string written;
  if (shard.count > 1) {
    summary["pareto"] = nlohmann::json::array();  // only meaningful once merged
    summary["shard"] = {{"index", shard.index}, {"count", shard.count}, {"points_total", spec.points.size()}};
    written = out + "/" + shard_summary_name(shard.index, shard.count);
    write_json_atomic(written, summary);
  } else {
    write_summary(out, summary);
    written = out + "/summary.csv";
  }
  if (!quiet) {
    for (const auto& w : warnings) std::cerr << "attnsim sweep: warning: " << w << "\n";
    std::cout << std::fixed << std::setprecision(1) << "sweep: " << mine.size() << " points (" << seen.size() << " distinct: " << child_jobs.size()
              << " run, " << found << " from an earlier run), " << failed << " failed, " << wall_s
              << " s; functional-cache hits " << cache_hits << "; summary: " << written << "\n";
    if (shard.count == 1) print_front(summary);
  }
  return failed ? 1 : 0;
}

}  // namespace attnsim
