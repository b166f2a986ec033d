//
// Storage.h
//
// Switchboard SDK: per-plugin SQL storage with bound parameters, transactions and versioned
// schema migrations.
//


#ifndef Switchboard_Storage_INCLUDED
#define Switchboard_Storage_INCLUDED


#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>


namespace Switchboard {


using Blob = std::vector<std::uint8_t>;
using Value = std::variant<std::nullptr_t, std::int64_t, double, std::string, Blob>;
///< A bound parameter or a result cell: NULL, integer, real, text or blob.


struct QueryResult
/// The outcome of one statement. On failure ok is false and error says why; nothing throws.
{
	bool ok = false;
	std::string error;
	std::vector<std::string> columns;
	std::vector<std::vector<Value>> rows;
	std::int64_t affectedRows = 0;
};


struct Migration
/// One step of a plugin's schema. The host applies every migration whose version is above the
/// stored one, in ascending order, each in its own transaction, before the plugin starts, and
/// records the version; a failing migration stops start-up. Versions start at 1; never edit a
/// released migration, add a new one. sql may hold several statements separated by ';'.
{
	int version;
	const char* sql;
};


class Storage
/// The plugin's own database. Each plugin has a namespace of its own (with SQLite, its own
/// database file <data_dir>/<plugin>.sqlite), so table names need no prefix. Write portable SQL
/// with '?' placeholders; the backend (SQLite now, PostgreSQL later) is chosen by the host.
///
/// Threading: every call is thread-safe. execute() and transaction() block on disk I/O and must
/// never be called on an event loop (connection callbacks, timers); call them from start(),
/// stop(), HTTP route handlers or Host::offload work. On a loop use executeAsync().
/// Owned by the host; valid until the plugin is destroyed.
{
public:
	virtual ~Storage() = default;

	virtual QueryResult execute(std::string_view sql, const std::vector<Value>& params = {}) = 0;
	/// Runs one statement with bound parameters. Blocking.

	virtual bool transaction(const std::function<bool(Storage& tx)>& body, std::string* error = nullptr) = 0;
	/// Runs body inside a transaction; commits when it returns true, rolls back when it returns
	/// false or a statement failed. Use only tx inside body. Blocking. Returns whether it committed.

	virtual void executeAsync(std::string sql, std::vector<Value> params, std::function<void(QueryResult)> done) = 0;
	/// Runs the statement on the host's worker pool and calls done with the result on the
	/// calling event loop (on a worker thread when called from elsewhere). done may be empty.
};


inline std::int64_t valueAsInt(const Value& v)
/// A cell as an integer (0 for NULL, text and blobs).
{
	if (auto p = std::get_if<std::int64_t>(&v))
		return *p;
	if (auto d = std::get_if<double>(&v))
		return static_cast<std::int64_t>(*d);
	return 0;
}


inline std::string valueAsString(const Value& v)
/// A cell as text (empty for NULL; numbers formatted; blob bytes as they are).
{
	if (auto s = std::get_if<std::string>(&v))
		return *s;
	if (auto p = std::get_if<std::int64_t>(&v))
		return std::to_string(*p);
	if (auto d = std::get_if<double>(&v))
		return std::to_string(*d);
	if (auto b = std::get_if<Blob>(&v))
		return std::string(b->begin(), b->end());
	return {};
}


} // namespace Switchboard


#endif // Switchboard_Storage_INCLUDED
