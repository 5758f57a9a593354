// Private to lj_index: purging what the retention window no longer keeps. The Index facade
// documents the contract.
#pragma once

#include "common/error.hpp"
#include "index/rows.hpp"

namespace lj::index {
class Db;
}

namespace lj::index::retention {

Result<RetentionStats> purge(Db& db, Time cutoff);

}  // namespace lj::index::retention
