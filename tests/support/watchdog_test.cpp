#include <doctest/doctest.h>

#include "support/subprocess.hpp"

using hearth::testing::run_command;

TEST_CASE(
    "the test watchdog ends a hung test case with its name and its threads' stacks") {
  const auto hung = run_command("HEARTH_TEST_WATCHDOG_S=1 '" HEARTH_WATCHDOG_PROBE
                                "' -tc='a test that never ends' 2>&1");
  INFO(hung.out);
  CHECK(hung.exit_code != 0);
  CHECK(hung.out.find("watchdog: test case \"a test that never ends\" has run for 1 s") !=
        std::string::npos);
  // The stuck thread's stack, with its function's name.
  CHECK(hung.out.find("hearth_probe_stuck_here") != std::string::npos);
  CHECK(hung.out.find("watchdog: aborting") != std::string::npos);
}

TEST_CASE("the test watchdog leaves a test case that ends in time alone") {
  const auto fine = run_command("HEARTH_TEST_WATCHDOG_S=1 '" HEARTH_WATCHDOG_PROBE
                                "' -tc='a test that ends in time' 2>&1");
  INFO(fine.out);
  CHECK(fine.exit_code == 0);
  CHECK(fine.out.find("watchdog") == std::string::npos);
}
