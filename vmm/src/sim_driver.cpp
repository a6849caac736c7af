#include "hearth/vmm/sim_driver.hpp"

#include <algorithm>

namespace hearth::vmm {

// -- sim_world ------------------------------------------------------------------

void sim_world::fail_restores(const std::string& host, int count) {
  std::lock_guard<std::mutex> lock(mutex_);
  hosts_[host].failing_restores += count;
}

void sim_world::hang_restores(const std::string& host, int count) {
  std::lock_guard<std::mutex> lock(mutex_);
  hosts_[host].hanging_restores += count;
}

void sim_world::fail_prepare(const std::string& host, const std::string& build_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  hosts_[host].failing_prepares.insert(build_id);
}

void sim_world::kill_vm(const std::string& vm_id) {
  sim_driver* owner = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [name, host] : hosts_)
      if (host.vms.erase(vm_id) > 0)
        owner = host.driver;
  }
  if (owner != nullptr)
    owner->notify_exit(vm_id, "the VM process died");
}

void sim_world::lose_host(const std::string& host) {
  sim_driver* owner = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& record = hosts_[host];
    record.lost = true;
    record.vms.clear();
    record.artifacts.clear();
    owner = record.driver;
  }
  if (owner != nullptr)
    owner->notify_health(false, "host stopped answering");
}

void sim_world::restore_host(const std::string& host) {
  sim_driver* owner = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& record = hosts_[host];
    record.lost = false;
    owner = record.driver;
  }
  if (owner != nullptr)
    owner->notify_health(true, "host answers again");
}

void sim_world::add_running(const std::string& host,
                            const std::vector<std::string>& vm_ids) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& record = hosts_[host];
  for (const auto& vm_id : vm_ids)
    record.vms.try_emplace(vm_id);
}

bool sim_world::has_vm(const std::string& vm_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [name, host] : hosts_)
    if (host.vms.count(vm_id) > 0)
      return true;
  return false;
}

std::size_t sim_world::vm_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::size_t total = 0;
  for (const auto& [name, host] : hosts_)
    total += host.vms.size();
  return total;
}

std::map<std::string, int> sim_world::restores() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::map<std::string, int>(restores_.begin(), restores_.end());
}

// -- sim_driver -----------------------------------------------------------------

sim_driver::sim_driver(std::string host, std::shared_ptr<sim_world> world,
                       sim_options options, executor run)
    : host_(std::move(host))
    , world_(std::move(world))
    , options_(options)
    , run_(std::move(run)) {
  std::lock_guard<std::mutex> lock(world_->mutex_);
  world_->hosts_[host_].driver = this;
}

sim_driver::~sim_driver() {
  std::lock_guard<std::mutex> lock(world_->mutex_);
  auto& record = world_->hosts_[host_];
  if (record.driver == this)
    record.driver = nullptr;
}

void sim_driver::build(build_request request, callback<build_result> done) {
  std::string failure;
  for (const auto& s : request.steps)
    if (s.kind == "run" && s.text == "false")
      failure = "step 'run false' exited with code 1";
  if (failure.empty() && request.start_cmd == "false")
    failure = "start command 'false' exited with code 1";
  if (failure.empty()) {
    std::lock_guard<std::mutex> lock(world_->mutex_);
    world_->hosts_[host_].artifacts.insert(request.build_id);
  }
  run_(options_.build_latency,
       [done = std::move(done), failure, id = request.build_id, host = host_]() {
         if (!failure.empty())
           done(error{errc::build_failed, failure});
         else
           done(build_result{"sim://" + host + "/" + id, "built " + id + "\n"});
       });
}

void sim_driver::prepare(std::string build_id, std::string, done_callback done) {
  bool fails = false;
  {
    std::lock_guard<std::mutex> lock(world_->mutex_);
    auto& record = world_->hosts_[host_];
    fails = record.lost || record.failing_prepares.count(build_id) > 0;
    if (!fails)
      record.artifacts.insert(build_id);
  }
  run_(options_.prepare_latency, [done = std::move(done), fails, build_id]() {
    if (fails)
      done(error{errc::prepare_failed, "artifact " + build_id + " failed verification"});
    else
      done(true);
  });
}

void sim_driver::restore(vm_request request, callback<vm_info> done) {
  enum { ok, failing, hanging } outcome = ok;
  {
    std::lock_guard<std::mutex> lock(world_->mutex_);
    auto& record = world_->hosts_[host_];
    // Artifacts are files: they outlive the simulated processes, so only a
    // lost host or an injected failure fails a restore.
    if (record.lost || record.failing_restores > 0) {
      outcome = failing;
      if (record.failing_restores > 0)
        --record.failing_restores;
    } else if (record.hanging_restores > 0) {
      outcome = hanging;
      --record.hanging_restores;
    }
    if (outcome != failing) {
      record.vms.try_emplace(request.vm_id);
      ++world_->restores_[request.vm_id];
    }
  }
  if (outcome == hanging)
    return; // the probe never passes: the caller's deadline must notice
  const auto latency = request.cold ? options_.cold_latency : options_.restore_latency;
  const std::string port = std::to_string(next_port_++);
  run_(latency, [this, done = std::move(done), outcome, request, port, latency]() {
    if (outcome == failing) {
      done(error{errc::restore_failed,
                 "restoring " + request.vm_id + " on " + host_ + " failed"});
      return;
    }
    if (!world_->has_vm(request.vm_id)) {
      done(error{errc::restore_failed, request.vm_id + " died while restoring"});
      return;
    }
    vm_info info;
    info.vm_id = request.vm_id;
    info.endpoints["8080"] = "127.0.0.1:" + port;
    info.restore_us = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(latency).count());
    done(std::move(info));
  });
}

void sim_driver::destroy(std::string vm_id, done_callback done) {
  {
    std::lock_guard<std::mutex> lock(world_->mutex_);
    world_->hosts_[host_].vms.erase(vm_id);
  }
  run_(options_.destroy_latency, [done = std::move(done)]() { done(true); });
}

std::vector<std::string> sim_driver::running() {
  std::lock_guard<std::mutex> lock(world_->mutex_);
  const auto& vms = world_->hosts_[host_].vms;
  std::vector<std::string> out;
  out.reserve(vms.size());
  for (const auto& [vm_id, running] : vms)
    out.push_back(vm_id);
  std::sort(out.begin(), out.end()); // the same order every run
  return out;
}

void sim_driver::on_vm_exit(std::function<void(std::string, std::string)> handler) {
  exit_handler_ = std::move(handler);
}

void sim_driver::on_host_health(std::function<void(bool, std::string)> handler) {
  health_handler_ = std::move(handler);
}

void sim_driver::notify_exit(const std::string& vm_id, const std::string& reason) {
  run_(std::chrono::nanoseconds(0), [this, vm_id, reason]() {
    if (exit_handler_)
      exit_handler_(vm_id, reason);
  });
}

void sim_driver::notify_health(bool healthy, const std::string& reason) {
  run_(std::chrono::nanoseconds(0), [this, healthy, reason]() {
    if (health_handler_)
      health_handler_(healthy, reason);
  });
}

} // namespace hearth::vmm
