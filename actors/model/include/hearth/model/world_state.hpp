#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/events/envelope.hpp"
#include "hearth/model/capacity.hpp"
#include "hearth/model/error.hpp"
#include "hearth/model/pool_state.hpp"
#include "hearth/model/sandbox_state.hpp"
#include "hearth/model/template_state.hpp"
#include "hearth/string_map.hpp"

namespace hearth::model {

/// Stream names: `pool/<id>`, `sandbox/<id>`, `host/<id>`, `tenant/<id>`,
/// `template/<team>/<name>`.
std::string pool_stream(std::string_view id);
std::string sandbox_stream(std::string_view id);
std::string host_stream(std::string_view id);
std::string tenant_stream(std::string_view id);
std::string template_stream(std::string_view name);

/// Every aggregate's state, rebuilt by applying the journal in order. Recovery
/// builds the actors from it; `hearth replay` prints it.
struct world_state {
  std::map<std::string, pool_state> pools;
  std::map<std::string, sandbox_state> sandboxes;
  std::map<std::string, host_state> hosts;
  std::map<std::string, tenant_state> tenants;
  std::map<std::string, template_state> templates;
  /// The highest sequence number applied per stream.
  string_map<std::uint64_t> sequences;
  /// Events that did not fit their aggregate's state (should stay 0).
  std::uint64_t rejected = 0;
  /// The first of them (at most `max_misfits`): `stream #sequence type`.
  std::vector<std::string> misfits;
  static constexpr std::size_t max_misfits = 10;

  /// A claim of a pool member by a sandbox, as the pool recorded it.
  struct claim {
    std::string pool_id;
    std::string tenant;
    std::string template_name;
    member claimed;
    std::uint32_t vcpus = 0;
    std::uint32_t memory_mb = 0;
    std::int64_t at_ns = 0;
    std::string mode; // the checkout's warm_pool_mode
  };
  /// Every claim, by sandbox id. A claim is durable before its caller hears
  /// of it; the sandbox's own stream follows, so a crash in between leaves a
  /// claim without a sandbox, which recovery repairs from here.
  std::map<std::string, claim> claims;
  /// How many times each VM was claimed (more than once is a bug).
  std::map<std::string, std::uint32_t> claims_per_vm;

  /// Decodes and applies one stored event. Fails on an event that does not
  /// decode or whose stream is not known.
  result<void> apply(const events::envelope& stored);

  /// Applies one event already decoded from `stream` at `sequence`. Fails on
  /// a stream that is not known.
  result<void> apply(const std::string& stream, std::uint64_t sequence,
                     const events::domain_event& event);
};

/// JSON descriptions of states: stable text, for comparing states and for
/// people.
std::string describe(const pool_state& state);
std::string describe(const sandbox_state& state);
std::string describe(const host_state& state);
std::string describe(const tenant_state& state);
std::string describe(const template_state& state);
std::string describe(const world_state& state);

} // namespace hearth::model
