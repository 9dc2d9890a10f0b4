#pragma once
// Base of every unit the controller drives with jobs: a TLM target socket, a
// clock period, and busy-cycle/MAC counters. Derived units implement run(),
// which fills job.work (its cycles are the job's latency). A loosely-timed
// unit computes the cycles and they are annotated on the delay; a
// cycle-accurate unit lets simulated time pass inside run() (wait on its
// clock) and reports the cycles it counted, so nothing more is annotated.
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "common/jobs.h"

namespace attnsim {

template <class Job>
class JobUnit : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<JobUnit<Job>> socket;

  JobUnit(sc_core::sc_module_name name, double clock_ghz)
      : sc_module(name), socket("socket"), period_(1.0 / clock_ghz, sc_core::SC_NS) {
    socket.register_b_transport(this, &JobUnit::b_transport);
  }

  Cycles busy_cycles() const { return busy_; }
  int64_t macs() const { return macs_; }
  int64_t jobs() const { return jobs_; }

 protected:
  // Computes the job's values and its UnitWork (latency and counters).
  virtual void run(Job& job) = 0;
  virtual bool annotates_delay() const { return true; }
  const sc_core::sc_time& period() const { return period_; }

 private:
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
    Job& job = job_of<Job>(gp);
    run(job);
    busy_ += job.work.cycles;
    macs_ += job.work.macs;
    ++jobs_;
    if (annotates_delay()) delay += period_ * static_cast<double>(job.work.cycles);
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
  }
  sc_core::sc_time period_;
  Cycles busy_ = 0;
  int64_t macs_ = 0, jobs_ = 0;
};

}  // namespace attnsim
