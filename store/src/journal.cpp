#include "hearth/store/journal.hpp"

#include "hearth/store/snapshot_store.hpp"
#include "hearth/store/storage.hpp"

namespace hearth::store {

journal::~journal() = default;
snapshot_store::~snapshot_store() = default;
storage::~storage() = default;

result<append_ack> journal::append(append_request request) {
  std::vector<append_request> requests;
  requests.push_back(std::move(request));
  auto results = append_many(std::move(requests));
  return std::move(results.front());
}

result<std::vector<events::envelope>> journal::read_stream(std::string_view stream,
                                                           std::uint64_t from,
                                                           std::uint64_t to,
                                                           std::uint64_t max_count) {
  std::vector<events::envelope> out;
  auto visited = read_stream(stream, from, to, max_count, [&](const events::envelope& e) {
    out.push_back(e);
    return true;
  });
  if (!visited)
    return std::move(visited).error();
  return out;
}

} // namespace hearth::store
