#pragma once

#include <string>
#include <variant>

#include "hearth/events/codec.hpp"
#include "hearth/events/domain/host_events.hpp"
#include "hearth/events/domain/pool_events.hpp"
#include "hearth/events/domain/sandbox_events.hpp"
#include "hearth/events/domain/template_events.hpp"
#include "hearth/events/domain/tenant_events.hpp"
#include "hearth/events/envelope.hpp"
#include "hearth/events/upcaster_registry.hpp"

namespace hearth::events {

/// Every event type hearth writes. Each has a `type_name`, a `version` and a
/// msgpack mapping.
using domain_event =
    std::variant<build_started, build_succeeded, build_failed, tag_moved, build_deleted,
                 pool_created, pool_updated, pool_lifecycle, rollout_started,
                 member_warming, member_ready, member_claimed, member_changed,
                 degraded_changed, sandbox_created, sandbox_changed, host_registered,
                 host_health_changed, artifact_changed, tenant_created, tenant_quota_set,
                 tenant_key_added, tenant_key_revoked>;

/// The type name of the event `event` holds.
const char* type_name(const domain_event& event);

/// The payload bytes of `event`.
std::string encode_domain(const domain_event& event);

/// Decodes a stored event: upcasts it with `upcasters` (the built-in registry
/// by default), then parses its payload. An unknown type is
/// `malformed_payload`.
result<domain_event> decode_domain(const envelope& stored,
                                   const upcaster_registry* upcasters = nullptr);

/// The registry knowing every domain event type's current version.
const upcaster_registry& domain_upcasters();

} // namespace hearth::events
