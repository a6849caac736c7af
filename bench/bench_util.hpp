#pragma once

// Shared helpers of the benchmark programs: timing, percentiles, output.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <sys/resource.h>
#include <vector>

namespace hearth::bench {

using clock = std::chrono::steady_clock;

inline double seconds_since(clock::time_point start) {
  return std::chrono::duration<double>(clock::now() - start).count();
}

/// CPU seconds (user + system) this process has used, over all its threads.
/// On a shared 2-core machine it varies less than throughput does.
inline double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

/// Context switches of the whole process so far (voluntary and not), every
/// thread included, ended ones too.
inline double process_switches() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_nvcsw) + static_cast<double>(usage.ru_nivcsw);
}

/// The p-th percentile (0..100) of `samples`, which it sorts.
inline double percentile(std::vector<double>& samples, double p) {
  if (samples.empty())
    return 0;
  std::sort(samples.begin(), samples.end());
  const auto index =
      static_cast<std::size_t>(p / 100.0 * static_cast<double>(samples.size() - 1) + 0.5);
  return samples[std::min(index, samples.size() - 1)];
}

/// One headline figure: printed as a table row and as a JSON line that
/// bench/run collects.
struct figure {
  figure(std::string name_, double value_, std::string unit_, std::string target_ = {},
         std::string baseline_ = {})
      : name(std::move(name_))
      , value(value_)
      , unit(std::move(unit_))
      , target(std::move(target_))
      , baseline(std::move(baseline_)) {}

  std::string name;
  double value = 0;
  std::string unit;
  std::string target; // e.g. ">= 250000"; empty when there is none
  /// What the same run measured to compare against, e.g. "raw QEMU: 242 ms".
  std::string baseline;
};

inline void print_figures(const std::string& bench, const std::vector<figure>& figures) {
  std::printf("\n%-58s %14s %-8s %-10s %s\n", "figure", "value", "unit", "target",
              "baseline");
  for (const auto& f : figures)
    std::printf("%-58s %14.3f %-8s %-10s %s\n", f.name.c_str(), f.value, f.unit.c_str(),
                f.target.c_str(), f.baseline.c_str());
  for (const auto& f : figures)
    std::printf("BENCH {\"bench\":\"%s\",\"name\":\"%s\",\"value\":%.6g,\"unit\":\"%s\","
                "\"target\":\"%s\",\"baseline\":\"%s\"}\n",
                bench.c_str(), f.name.c_str(), f.value, f.unit.c_str(), f.target.c_str(),
                f.baseline.c_str());
}

} // namespace hearth::bench
