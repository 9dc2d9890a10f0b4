#pragma once
// Shared plumbing of the loosely-timed models: cycle counts, and passing a job
// to a unit as a TLM extension of the generic payload.
#include <systemc>
#include <tlm>

#include <cstdint>
#include <stdexcept>

namespace attnsim {

using Cycles = int64_t;

inline Cycles ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Nanoseconds to whole cycles at a clock (rounded up: a transfer that ends
// mid-cycle is seen at the next edge).
Cycles ns_to_cycles(double ns, double clock_ghz);

// Sends a job (a tlm_extension, jobs.h) to a unit and waits for it: the
// extension is attached for the call only, so the payload never frees it.
template <class Socket, class Job>
void send_job(Socket& socket, Job& job) {
  tlm::tlm_generic_payload gp;
  gp.set_command(tlm::TLM_IGNORE_COMMAND);
  gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  struct Attached {
    tlm::tlm_generic_payload& gp;
    Job& job;
    ~Attached() { gp.clear_extension(&job); }
  } attached{gp, job};
  gp.set_extension(&job);
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;  // unused: time comes from job.work (compute_unit.h)
  socket->b_transport(gp, delay);
  if (gp.get_response_status() != tlm::TLM_OK_RESPONSE)
    throw std::logic_error("job rejected by its unit: " + gp.get_response_string());
}

}  // namespace attnsim
