#pragma once

// The seed's rules for a sandbox create, shared by the controller (creates
// with no pool, or a pool it hands them to) and the pool actors (checkouts
// that come straight to them).

#include <optional>
#include <string>

#include "hearth/actors/api_types.hpp"
#include "hearth/model/error.hpp"

namespace hearth::actors {

/// Why a request's create-time shape is not poolable, or empty when it is.
std::string unpoolable_reason(const api::sandbox_request& r);

/// Checks what a create asks for before anything happens, and fills in the
/// default mode (prefer). `max_wait_ms`: the longest warm_pool_wait_ms.
std::optional<model::error> check_sandbox_request(api::sandbox_request& r,
                                                  std::uint32_t max_wait_ms);

} // namespace hearth::actors
