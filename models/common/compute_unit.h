#pragma once
// Base of every unit the controller drives with jobs: a TLM target socket, a
// clock period, and busy-cycle/MAC counters. A job travels as a TLM extension
// of the generic payload (jobs.h); derived units implement run(), which fills
// job.work. Time has one source: the controller schedules every job from the
// latency in job.work (controller/pipeline.h), so no unit annotates a delay.
// A cycle-accurate unit lets simulated time pass inside run() (it waits on
// its own clock) and reports the cycles it counted.
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "common/jobs.h"
#include "common/unit.h"

namespace attnsim {

template <class Job>
class JobUnit : public UnitModule {
 public:
  tlm_utils::simple_target_socket<JobUnit<Job>> socket;

  JobUnit(sc_core::sc_module_name name, double clock_ghz)
      : UnitModule(name), socket("socket"), period_(1.0 / clock_ghz, sc_core::SC_NS) {
    socket.register_b_transport(this, &JobUnit::b_transport);
  }

  tlm::tlm_target_socket<>& target() override { return socket; }
  Cycles busy_cycles() const { return busy_; }
  int64_t macs() const { return macs_; }
  int64_t jobs() const { return jobs_; }

 protected:
  // Computes the job's values and its UnitWork (latency and counters).
  virtual void run(Job& job) = 0;
  const sc_core::sc_time& period() const { return period_; }

 private:
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time&) {
    Job* job = gp.get_extension<Job>();
    if (!job) {  // a job of another kind: this unit sits in the wrong slot
      gp.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
      return;
    }
    run(*job);
    busy_ += job->work.cycles;
    macs_ += job->work.macs;
    ++jobs_;
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
  }
  sc_core::sc_time period_;
  Cycles busy_ = 0;
  int64_t macs_ = 0, jobs_ = 0;
};

}  // namespace attnsim
