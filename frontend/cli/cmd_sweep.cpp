// attnsim sweep: options and output of a sweep (docs/dse.md); the sweep
// itself (folders, locking, resume, shards, summaries) is dse/sweep_runner.
#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>

#include <iomanip>
#include <iostream>
#include <optional>
#include <set>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "dse/process_pool.h"
#include "dse/sweep_runner.h"
#include "dse/sweep_summary.h"

namespace attnsim {

namespace {

void print_front(const nlohmann::json& summary) {
  std::string objectives;
  for (const auto& o : summary["objectives"])
    if (o["used"].get<bool>())
      objectives += (objectives.empty() ? "" : ", ") + o["metric"].get<std::string>() + " " + o["goal"].get<std::string>();
  if (objectives.empty()) return;
  std::cout << "Pareto front (" << objectives << "; per workload):\n" << pareto_table(summary);
}

int merge(const std::vector<std::string>& dirs, const std::string& out, bool quiet) {
  const MergeResult m = merge_sweeps(dirs, out);
  if (!quiet) {
    for (const auto& w : m.warnings) std::cerr << "attnsim sweep: warning: " << w << "\n";
    std::cout << "merged " << m.shard_files.size() << " shard summaries: " << m.points << " points, " << m.failed
              << " failed; summary: " << m.out << "/summary.csv\n";
    print_front(m.summary);
  }
  return m.failed ? 1 : 0;
}

// --point: each point's entry as one JSON line on stdout.
int evaluate(const SweepSpec& spec, const std::vector<std::string>& texts, const SweepOptions& opt) {
  std::vector<ParamSet> points;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string where = texts.size() == 1 ? "--point" : "--point[" + std::to_string(i) + "]";
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(texts[i]);
    } catch (const nlohmann::json::exception& e) {
      throw InputError("", where, std::string("not JSON: ") + e.what());
    }
    points.push_back(parse_point(spec, j, spec.file, where));
  }
  // The point dies with whoever asked for it (a search worker killed by
  // kill -9): its `attnsim run` child follows (PR_SET_PDEATHSIG in the pool).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  bool failed = false;
  for (const auto& e : evaluate_points(spec, points, opt)) {
    std::cout << e.dump() << "\n";
    failed |= e["status"] != "ok";
  }
  std::cout.flush();
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
      ("point", po::value<std::vector<std::string>>()->composing(),
       "evaluate this point only, a JSON object {\"PATH\": VALUE, ...} (repeatable; a search's trial): "
       "prints one JSON line per point; several processes may share one --out")
      ("summarize", po::value<std::string>(),
       "write summary.csv/json in --out for the points listed in this JSON file (a search's trials)")
      ("quiet,q", "no progress bar and no tables");
  po::positional_options_description pos;
  pos.add("inputs", -1);
  po::variables_map vm;
  if (!parse_options(argc, argv,
                     "usage: attnsim sweep SPEC.json --out DIR [-j N] [--shard I/N] [--no-reuse]\n"
                     "       attnsim sweep SPEC.json --out DIR --point '{\"PATH\": VALUE}' | --summarize LIST.json\n"
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
  SweepOptions opt;
  opt.out = out;
  opt.executable = self_executable();
  opt.workers = jobs;
  opt.timeout_s = timeout_s;
  opt.reuse = reuse;
  opt.allow_large = vm.count("allow-large") > 0;
  opt.shard = shard;
  if (vm.count("point")) return evaluate(spec, vm["point"].as<std::vector<std::string>>(), opt);
  if (vm.count("summarize")) {
    const SweepResult r = summarize_points(spec, vm["summarize"].as<std::string>(), out);
    if (!quiet) {
      for (const auto& w : r.warnings) std::cerr << "attnsim sweep: warning: " << w << "\n";
      std::cout << "summary of " << r.points << " points, " << r.failed << " failed: " << r.written << "\n";
      print_front(r.summary);
    }
    return r.failed ? 1 : 0;
  }
  if (spec.is_search() && !vm.count("dry-run"))
    throw InputError(spec.file, "space", "a search space: run attnsim search (or evaluate points with --point)");
  if (vm.count("dry-run")) {
    const std::vector<const SweepPoint*> mine = shard_points(spec, shard);
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

  // The bar starts with the first point, not while earlier reports are read (its ETA).
  std::optional<ProgressBar> bar;
  SweepProgress progress;
  progress.update = [&](int done, int total) {
    if (!bar) bar.emplace("sweep", quiet);
    bar->update(done, total);
  };
  progress.failed = [&](const SweepPoint& p, const std::string& error) {
    if (!quiet)
      std::cerr << (isatty(STDERR_FILENO) ? "\n" : "") << "attnsim sweep: point " << p.index << " ("
                << describe(p.params) << ", " << spec.workloads[p.workload].spec.name << ") failed: " << error << "\n";
  };
  const SweepResult r = run_sweep(spec, opt, progress);
  bar.reset();  // ends the bar's line
  if (!quiet) {
    for (const auto& w : r.warnings) std::cerr << "attnsim sweep: warning: " << w << "\n";
    std::cout << std::fixed << std::setprecision(1) << "sweep: " << r.points << " points (" << r.distinct
              << " distinct: " << r.run << " run, " << r.found << " from an earlier run), " << r.failed << " failed, "
              << r.wall_s << " s; functional-cache hits " << r.cache_hits << "; summary: " << r.written << "\n";
    if (shard.count == 1) print_front(r.summary);
  }
  return r.failed ? 1 : 0;
}

}  // namespace attnsim
