//
// PostgresPool.h
//
// libpq connections of the PostgreSQL backend: typed statements on one connection, and a bounded
// pool that waits for a free connection, drops dead ones and reconnects.
//


#ifndef Switchboard_Storage_PostgresPool_INCLUDED
#define Switchboard_Storage_PostgresPool_INCLUDED


#include "switchboard/Storage.h"
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>


typedef struct pg_conn PGconn;


namespace Switchboard {
namespace Core {


struct PostgresParameters
/// Where the pool connects (the [storage] postgresql_* keys).
{
	std::string host = "127.0.0.1";
	int port = 5432;
	std::string database = "switchboard";
	std::string user = "switchboard";
	std::string password;                  ///< empty: libpq's own fallbacks (PGPASSWORD, ~/.pgpass)
	std::int64_t connectTimeoutMs = 5000;  ///< rounded up to whole seconds, at least 2 (libpq's unit)
	std::size_t poolSize = 6;              ///< connections open at most
	std::int64_t acquireTimeoutMs = 30000; ///< how long a caller waits for a busy pool

	std::string endpoint() const;
	/// "host:port" ("[::1]:port" for an IPv6 literal), for messages.
};


class PostgresConnection
/// One libpq connection. Used by one thread at a time (whoever holds its lease); no method throws.
{
public:
	explicit PostgresConnection(PGconn* pConnection, std::string endpoint);
	~PostgresConnection();

	PostgresConnection(const PostgresConnection&) = delete;
	PostgresConnection& operator=(const PostgresConnection&) = delete;

	QueryResult execute(const std::string& text, const std::vector<Value>& params);
	/// Runs one statement already in PostgreSQL's spelling ($n parameters) with typed parameters:
	/// NULL; integer as int8; real as float8 (17 significant digits, so it round-trips); text as
	/// an untyped literal (PostgreSQL infers the type from the context, as SQLite's affinity would
	/// accept it), refused if it holds a NUL byte; blob as bytea, sent in binary. Cells come back
	/// by column type: int2/int4/int8/oid as integers, float4/float8 as reals, numeric as an
	/// integer when it is one and fits (sum() of integers) else a real, bool as 1/0, bytea as a
	/// blob, NULL as nullptr, everything else as text. affectedRows is PostgreSQL's row count for
	/// INSERT, UPDATE, DELETE and MERGE, 0 for other statements.

	bool command(const std::string& sql, std::string& error, std::string* status = nullptr);
	/// Runs a statement without parameters and without rows (BEGIN, SET, ...). status gets
	/// PostgreSQL's command tag ("COMMIT", or "ROLLBACK" for the COMMIT of an aborted transaction).

	bool useSchema(const std::string& quotedSchema, std::string& error);
	/// SET search_path to quotedSchema unless this connection is already there. Only between
	/// transactions (a SET inside one would be undone by its rollback).

	bool broken() const;
	/// The connection is gone (the server closed it or the network failed).

	bool inTransaction() const;
	/// A transaction is open (or aborted and not yet rolled back).

	bool idleAndAlive();
	/// For a connection taken from the idle list: false if the server closed it meanwhile (an idle
	/// connection never has anything to read, so anything readable means a closing server: a
	/// restart, a terminated backend), without blocking.

	const std::string& endpoint() const { return _endpoint; }

private:
	std::string failure(const std::string& message) const;

	PGconn* _pConnection;
	std::string _endpoint;
	std::string _schema;
};


class PostgresPool: public std::enable_shared_from_this<PostgresPool>
/// At most parameters.poolSize connections, opened on demand and kept open. acquire() hands out a
/// healthy one, waiting (up to acquireTimeoutMs) while all are busy; a broken connection is
/// closed when it comes back instead of being reused, and the next acquire() connects anew, so
/// the pool recovers by itself when the server returns. Thread-safe.
{
public:
	class Lease
	/// One connection borrowed from the pool; returns it when destroyed. Movable, not copyable.
	{
	public:
		Lease() = default;
		Lease(std::shared_ptr<PostgresPool> pPool, std::unique_ptr<PostgresConnection> pConnection);
		Lease(Lease&& other) noexcept = default;
		Lease& operator=(Lease&& other) noexcept;
		~Lease();

		explicit operator bool() const { return _pConnection != nullptr; }
		PostgresConnection& operator*() const { return *_pConnection; }
		PostgresConnection* operator->() const { return _pConnection.get(); }

	private:
		void giveBack();

		std::shared_ptr<PostgresPool> _pPool;
		std::unique_ptr<PostgresConnection> _pConnection;
	};

	static std::shared_ptr<PostgresPool> create(PostgresParameters parameters);

	Lease acquire(std::string& error);
	/// A connection, or an empty lease with error set ("cannot connect to PostgreSQL at ...", or
	/// every connection stayed busy for acquireTimeoutMs).

	const PostgresParameters& parameters() const { return _parameters; }

private:
	explicit PostgresPool(PostgresParameters parameters);

	std::unique_ptr<PostgresConnection> connect(std::string& error);
	void release(std::unique_ptr<PostgresConnection> pConnection);
	void reportFailure(const std::string& message);

	const PostgresParameters _parameters;
	std::mutex _mutex;
	std::condition_variable _freed;
	std::vector<std::unique_ptr<PostgresConnection>> _idle; ///< guarded by _mutex
	std::size_t _busy = 0;                                  ///< leased or connecting; guarded by _mutex
	std::chrono::steady_clock::time_point _lastReport{};    ///< guarded by _mutex
	long _unreported = 0;                                   ///< guarded by _mutex
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Storage_PostgresPool_INCLUDED
