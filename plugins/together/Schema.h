//
// Schema.h
//
// Together's tables (docs/protocols/together.md, "Data model") as versioned migrations. The
// plugin's storage is a namespace of its own (with SQLite its own database file), so the tables
// carry their logical names. Timestamps are INTEGER microseconds, booleans INTEGER 0/1, ids TEXT.
//


#ifndef Switchboard_Together_Schema_INCLUDED
#define Switchboard_Together_Schema_INCLUDED


#include "switchboard/Storage.h"
#include <vector>


namespace Switchboard {
namespace Together {


std::vector<Migration> togetherMigrations();
/// Every step from an empty database to the current schema, oldest first. Never edit a released
/// step; add one.


} // namespace Together
} // namespace Switchboard


#endif // Switchboard_Together_Schema_INCLUDED
