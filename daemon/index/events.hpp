// Private to lj_index: reading and appending the event log (a transition appends its own event
// through Db::append, in its transaction). The Index facade documents the contract of each call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/error.hpp"
#include "index/rows.hpp"

namespace lj::index {
class Db;
}

namespace lj::index::events {

Result<EventRow> append(Db& db, std::string_view type, std::string_view resource,
                        std::optional<std::uint32_t> uid, std::string_view data_json);
Result<EventBatch> since(Db& db, std::int64_t since, std::size_t limit);
Result<std::int64_t> last_seq(Db& db);

}  // namespace lj::index::events
