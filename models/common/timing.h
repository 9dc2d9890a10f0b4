#pragma once
// Shared plumbing of the loosely-timed models: cycle counts, and passing a job
// object through a TLM generic payload (the data pointer carries the job; the
// target casts it back and annotates its latency on the delay).
#include <systemc>
#include <tlm>

#include <cstdint>

namespace attnsim {

using Cycles = int64_t;

inline Cycles ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Nanoseconds to whole cycles at a clock (rounded up: a transfer that ends
// mid-cycle is seen at the next edge).
Cycles ns_to_cycles(double ns, double clock_ghz);

template <class Socket, class Job>
void send_job(Socket& socket, Job& job, sc_core::sc_time& delay) {
  tlm::tlm_generic_payload gp;
  gp.set_command(tlm::TLM_WRITE_COMMAND);
  gp.set_data_ptr(reinterpret_cast<unsigned char*>(&job));
  gp.set_data_length(sizeof(Job));
  gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  socket->b_transport(gp, delay);
  if (gp.is_response_error()) throw std::runtime_error("job rejected: " + gp.get_response_string());
}

template <class Job>
Job& job_of(tlm::tlm_generic_payload& gp) {
  if (gp.get_data_length() != sizeof(Job)) throw std::logic_error("job payload of the wrong type");
  return *reinterpret_cast<Job*>(gp.get_data_ptr());
}

}  // namespace attnsim
