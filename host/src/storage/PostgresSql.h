//
// PostgresSql.h
//
// The SQL text rules of the PostgreSQL backend: '?' placeholders to $n, splitting migration
// scripts, the few SQLite spellings translated, statements a plugin may not run.
//


#ifndef Switchboard_Storage_PostgresSql_INCLUDED
#define Switchboard_Storage_PostgresSql_INCLUDED


#include <string>
#include <string_view>
#include <vector>


namespace Switchboard {
namespace Core {
namespace PostgresSql {


struct Prepared
/// One plugin statement made ready for PostgreSQL.
{
	std::string text;        ///< '?' and '?NNN' replaced by $n, SQLite type names translated
	int placeholders = 0;    ///< how many '?' placeholders the text had (0 when it uses $n itself)
	bool ownDollars = false; ///< the plugin wrote $n parameters itself: PostgreSQL checks the count
};


bool prepare(std::string_view sql, Prepared& out, std::string& error);
/// Checks and rewrites one statement of a plugin: exactly one statement (whitespace, comments
/// and ';' may follow), no NUL byte, not empty, not refused (see refusal()); '?' outside string
/// literals, quoted identifiers, dollar quotes and comments becomes $1, $2, ... in order ('?NNN'
/// becomes $NNN); SQLite type names are translated as translateTypes() does. False with error
/// set (worded like the SQLite backend's errors where they share a rule).


std::vector<std::string> split(std::string_view script);
/// The statements of a migration script, split at ';' outside literals, quoted identifiers,
/// dollar quotes and comments; pieces holding only whitespace and comments are dropped. Each
/// statement is returned with its types translated.


std::string translateTypes(std::string_view statement);
/// The documented SQLite-to-PostgreSQL translations, applied outside literals and comments:
/// in CREATE and ALTER statements "INTEGER PRIMARY KEY [AUTOINCREMENT]" becomes "BIGSERIAL
/// PRIMARY KEY"; INTEGER and INT become BIGINT (SQLite integers are 64-bit), REAL and a lone
/// DOUBLE become DOUBLE PRECISION (SQLite reals are 8 bytes), BLOB becomes BYTEA. In other
/// statements only type names after AS or :: (casts) are translated.


std::string refusal(std::string_view statement);
/// Why a plugin may not run statement ("" if it may): transaction control (use
/// Storage::transaction()), SET/RESET/DISCARD (the backend owns the session: search_path),
/// INSERT OR IGNORE/REPLACE (SQLite only; say ON CONFLICT instead).


std::string quoteIdentifier(std::string_view name);
/// "name" with embedded double quotes doubled.


std::string excerpt(std::string_view sql);
/// The start of a statement for error messages, whitespace collapsed, at most 80 characters.


} // namespace PostgresSql
} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Storage_PostgresSql_INCLUDED
