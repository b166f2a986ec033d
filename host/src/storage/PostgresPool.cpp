//
// PostgresPool.cpp
//
// libpq connections of the PostgreSQL backend: typed statements on one connection, and a bounded
// pool that waits for a free connection, drops dead ones and reconnects.
//


#include "storage/PostgresPool.h"
#include "Poco/Logger.h"
#include <libpq-fe.h>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <poll.h>
#include <type_traits>
#include <utility>
#include <variant>


namespace Switchboard {
namespace Core {


namespace {


// Type OIDs of pg_type (fixed since PostgreSQL 7; the server's pg_type_d.h is not in libpq-dev).
constexpr Oid BOOL_OID = 16;
constexpr Oid BYTEA_OID = 17;
constexpr Oid INT8_OID = 20;
constexpr Oid INT2_OID = 21;
constexpr Oid INT4_OID = 23;
constexpr Oid OID_OID = 26;
constexpr Oid FLOAT4_OID = 700;
constexpr Oid FLOAT8_OID = 701;
constexpr Oid NUMERIC_OID = 1700;

constexpr int TEXT_FORMAT = 0;
constexpr int BINARY_FORMAT = 1;


std::string oneLine(const char* pText)
/// libpq's messages span lines ("...failed: Connection refused\n\tIs the server running ...");
/// a log line and a QueryResult.error are one line.
{
	std::string out;
	bool space = false;
	for (const char* p = pText ? pText : ""; *p; ++p)
	{
		const char c = *p;
		if (c == '\n' || c == '\r' || c == '\t' || c == ' ')
		{
			space = !out.empty();
			continue;
		}
		if (space)
			out += ' ';
		space = false;
		out += c;
	}
	return out;
}


void ignoreNotice(void*, const char*)
{
	// "relation ... already exists, skipping" and the like: libpq would print them to stderr.
}


std::string formatDouble(double value)
{
	if (std::isnan(value))
		return "NaN";
	if (std::isinf(value))
		return value > 0 ? "Infinity" : "-Infinity";
	char buffer[40];
	std::snprintf(buffer, sizeof(buffer), "%.17g", value);
	return buffer;
}


int hexDigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}


Blob decodeBytea(const char* pText, std::size_t length)
/// bytea in text form: "\x0a1b" (hex, the default output) or the old escape form ("a\\b\001").
{
	Blob out;
	if (length >= 2 && pText[0] == '\\' && pText[1] == 'x')
	{
		out.reserve((length - 2) / 2);
		for (std::size_t i = 2; i + 1 < length; i += 2)
			out.push_back(static_cast<std::uint8_t>(hexDigit(pText[i]) * 16 + hexDigit(pText[i + 1])));
		return out;
	}
	for (std::size_t i = 0; i < length; ++i)
	{
		if (pText[i] == '\\' && i + 1 < length && pText[i + 1] == '\\')
		{
			out.push_back('\\');
			++i;
		}
		else if (pText[i] == '\\' && i + 3 < length)
		{
			out.push_back(
			    static_cast<std::uint8_t>((pText[i + 1] - '0') * 64 + (pText[i + 2] - '0') * 8 + (pText[i + 3] - '0')));
			i += 3;
		}
		else
			out.push_back(static_cast<std::uint8_t>(pText[i]));
	}
	return out;
}


Value numericValue(const char* pText)
/// numeric: an integer when it is one that fits (sum() and friends of integer columns), else a
/// real (avg(), a division).
{
	const char* p = pText;
	if (*p == '-' || *p == '+')
		++p;
	bool integral = *p != '\0';
	for (const char* q = p; *q; ++q)
		integral = integral && *q >= '0' && *q <= '9';
	if (integral)
	{
		errno = 0;
		const long long value = std::strtoll(pText, nullptr, 10);
		if (errno != ERANGE)
			return static_cast<std::int64_t>(value);
	}
	return std::strtod(pText, nullptr);
}


Value cellValue(const PGresult* pResult, int row, int column)
{
	if (PQgetisnull(pResult, row, column))
		return nullptr;
	const char* pText = PQgetvalue(pResult, row, column);
	const std::size_t length = static_cast<std::size_t>(PQgetlength(pResult, row, column));
	switch (PQftype(pResult, column))
	{
		case INT2_OID:
		case INT4_OID:
		case INT8_OID:
		case OID_OID:
			return static_cast<std::int64_t>(std::strtoll(pText, nullptr, 10));
		case FLOAT4_OID:
		case FLOAT8_OID:
			return std::strtod(pText, nullptr);
		case NUMERIC_OID:
			return numericValue(pText);
		case BOOL_OID:
			return static_cast<std::int64_t>(pText[0] == 't' ? 1 : 0);
		case BYTEA_OID:
			return decodeBytea(pText, length);
		default:
			return std::string(pText, length);
	}
}


bool countsRows(const char* pStatus)
/// INSERT, UPDATE, DELETE and MERGE report the rows they changed; SELECT's count is not that.
{
	const std::string tag = pStatus ? pStatus : "";
	for (const char* verb : {"INSERT ", "UPDATE ", "DELETE ", "MERGE "})
	{
		if (tag.compare(0, std::char_traits<char>::length(verb), verb) == 0)
			return true;
	}
	return false;
}


std::string errorText(const PGresult* pResult)
/// The server's message, with its detail (which key a unique violation hit) when there is one.
{
	const char* pPrimary = PQresultErrorField(pResult, PG_DIAG_MESSAGE_PRIMARY);
	const char* pDetail = PQresultErrorField(pResult, PG_DIAG_MESSAGE_DETAIL);
	std::string message = pPrimary ? oneLine(pPrimary) : oneLine(PQresultErrorMessage(pResult));
	if (pDetail)
		message += " (" + oneLine(pDetail) + ")";
	return message;
}


struct ResultHandle
/// PQclear on every exit path.
{
	explicit ResultHandle(PGresult* p):
	    pResult(p)
	{
	}
	~ResultHandle() { PQclear(pResult); }
	ResultHandle(const ResultHandle&) = delete;
	ResultHandle& operator=(const ResultHandle&) = delete;

	PGresult* pResult;
};


} // namespace


std::string PostgresParameters::endpoint() const
{
	if (host.find(':') != std::string::npos)
		return "[" + host + "]:" + std::to_string(port);
	return host + ":" + std::to_string(port);
}


//
// PostgresConnection
//


PostgresConnection::PostgresConnection(PGconn* pConnection, std::string endpoint):
    _pConnection(pConnection),
    _endpoint(std::move(endpoint))
{
	PQsetNoticeProcessor(_pConnection, &ignoreNotice, nullptr);
}


PostgresConnection::~PostgresConnection()
{
	PQfinish(_pConnection);
}


std::string PostgresConnection::failure(const std::string& message) const
{
	if (broken())
		return "lost the connection to PostgreSQL at " + _endpoint + ": " + message;
	return message;
}


QueryResult PostgresConnection::execute(const std::string& text, const std::vector<Value>& params)
{
	QueryResult result;
	try
	{
		const std::size_t count = params.size();
		std::vector<std::string> texts(count);
		std::vector<const char*> values(count, nullptr);
		std::vector<int> lengths(count, 0);
		std::vector<int> formats(count, TEXT_FORMAT);
		std::vector<Oid> types(count, 0);
		static const char EMPTY = '\0';
		for (std::size_t i = 0; i < count; ++i)
		{
			const Value& value = params[i];
			if (auto pInt = std::get_if<std::int64_t>(&value))
			{
				texts[i] = std::to_string(*pInt);
				types[i] = INT8_OID;
				values[i] = texts[i].c_str();
			}
			else if (auto pReal = std::get_if<double>(&value))
			{
				texts[i] = formatDouble(*pReal);
				types[i] = FLOAT8_OID;
				values[i] = texts[i].c_str();
			}
			else if (auto pText = std::get_if<std::string>(&value))
			{
				if (pText->find('\0') != std::string::npos)
				{
					result.error = "cannot bind parameter " + std::to_string(i + 1) +
					               ": PostgreSQL text cannot hold a NUL byte (bind binary data as a blob)";
					return result;
				}
				values[i] = pText->c_str();
			}
			else if (auto pBlob = std::get_if<Blob>(&value))
			{
				// A null pointer would be NULL: an empty blob points at something of length 0.
				values[i] = pBlob->empty() ? &EMPTY : reinterpret_cast<const char*>(pBlob->data());
				lengths[i] = static_cast<int>(pBlob->size());
				formats[i] = BINARY_FORMAT;
				types[i] = BYTEA_OID;
			}
		}

		ResultHandle handle(PQexecParams(_pConnection, text.c_str(), static_cast<int>(count), types.data(),
		                                 values.data(), lengths.data(), formats.data(), TEXT_FORMAT));
		PGresult* pResult = handle.pResult;
		if (!pResult)
		{
			result.error = failure(oneLine(PQerrorMessage(_pConnection)));
			return result;
		}
		const ExecStatusType status = PQresultStatus(pResult);
		if (status == PGRES_EMPTY_QUERY)
		{
			result.error = "empty SQL statement";
			return result;
		}
		if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
		{
			result.error = failure(errorText(pResult));
			return result;
		}
		const int columns = PQnfields(pResult);
		const int rows = PQntuples(pResult);
		result.columns.reserve(static_cast<std::size_t>(columns));
		for (int c = 0; c < columns; ++c)
		{
			const char* pName = PQfname(pResult, c);
			result.columns.emplace_back(pName ? pName : "");
		}
		result.rows.reserve(static_cast<std::size_t>(rows));
		for (int r = 0; r < rows; ++r)
		{
			std::vector<Value> row;
			row.reserve(static_cast<std::size_t>(columns));
			for (int c = 0; c < columns; ++c)
				row.push_back(cellValue(pResult, r, c));
			result.rows.push_back(std::move(row));
		}
		if (countsRows(PQcmdStatus(pResult)))
			result.affectedRows = static_cast<std::int64_t>(std::strtoll(PQcmdTuples(pResult), nullptr, 10));
		result.ok = true;
	}
	catch (const std::exception& e)
	{
		QueryResult failed;
		failed.error = std::string("storage error: ") + e.what();
		return failed;
	}
	return result;
}


bool PostgresConnection::command(const std::string& sql, std::string& error, std::string* status)
{
	ResultHandle handle(PQexec(_pConnection, sql.c_str()));
	PGresult* pResult = handle.pResult;
	if (!pResult)
	{
		error = failure(oneLine(PQerrorMessage(_pConnection)));
		return false;
	}
	const ExecStatusType result = PQresultStatus(pResult);
	if (result != PGRES_COMMAND_OK && result != PGRES_TUPLES_OK)
	{
		error = failure(errorText(pResult));
		return false;
	}
	if (status)
		*status = PQcmdStatus(pResult);
	return true;
}


bool PostgresConnection::useSchema(const std::string& quotedSchema, std::string& error)
{
	if (_schema == quotedSchema)
		return true;
	if (!command("SET search_path TO " + quotedSchema, error))
		return false;
	_schema = quotedSchema;
	return true;
}


bool PostgresConnection::broken() const
{
	return PQstatus(_pConnection) != CONNECTION_OK;
}


bool PostgresConnection::inTransaction() const
{
	const PGTransactionStatusType status = PQtransactionStatus(_pConnection);
	return status != PQTRANS_IDLE;
}


bool PostgresConnection::idleAndAlive()
{
	if (broken() || inTransaction())
		return false;
	const int fd = PQsocket(_pConnection);
	if (fd < 0)
		return false;
	pollfd check{fd, POLLIN, 0};
	int rc = 0;
	do
		rc = ::poll(&check, 1, 0);
	while (rc < 0 && errno == EINTR);
	return rc == 0;
}


//
// PostgresPool::Lease
//


PostgresPool::Lease::Lease(std::shared_ptr<PostgresPool> pPool, std::unique_ptr<PostgresConnection> pConnection):
    _pPool(std::move(pPool)),
    _pConnection(std::move(pConnection))
{
}


PostgresPool::Lease& PostgresPool::Lease::operator=(Lease&& other) noexcept
{
	if (this != &other)
	{
		giveBack();
		_pPool = std::move(other._pPool);
		_pConnection = std::move(other._pConnection);
	}
	return *this;
}


PostgresPool::Lease::~Lease()
{
	giveBack();
}


void PostgresPool::Lease::giveBack()
{
	if (_pPool && _pConnection)
		_pPool->release(std::move(_pConnection));
	_pConnection.reset();
	_pPool.reset();
}


//
// PostgresPool
//


PostgresPool::PostgresPool(PostgresParameters parameters):
    _parameters(std::move(parameters))
{
}


std::shared_ptr<PostgresPool> PostgresPool::create(PostgresParameters parameters)
{
	if (parameters.poolSize == 0)
		parameters.poolSize = 1;
	return std::shared_ptr<PostgresPool>(new PostgresPool(std::move(parameters)));
}


std::unique_ptr<PostgresConnection> PostgresPool::connect(std::string& error)
{
	// libpq counts the connect timeout in whole seconds and takes at least 2.
	std::int64_t seconds = (_parameters.connectTimeoutMs + 999) / 1000;
	if (seconds < 2)
		seconds = 2;
	const std::string port = std::to_string(_parameters.port);
	const std::string timeout = std::to_string(seconds);
	std::vector<const char*> keywords = {"host",
	                                     "port",
	                                     "dbname",
	                                     "user",
	                                     "connect_timeout",
	                                     "application_name",
	                                     "client_encoding",
	                                     "keepalives",
	                                     "keepalives_idle",
	                                     "keepalives_interval",
	                                     "keepalives_count"};
	std::vector<const char*> values = {_parameters.host.c_str(),
	                                   port.c_str(),
	                                   _parameters.database.c_str(),
	                                   _parameters.user.c_str(),
	                                   timeout.c_str(),
	                                   "switchboard",
	                                   "UTF8",
	                                   "1",
	                                   "30",
	                                   "10",
	                                   "3"};
	if (!_parameters.password.empty())
	{
		keywords.push_back("password");
		values.push_back(_parameters.password.c_str());
	}
	keywords.push_back(nullptr);
	values.push_back(nullptr);

	// Keyword arrays, not a connection string: any character in a value is passed as it is, and
	// expand_dbname = 0 keeps a database name with '=' a name.
	PGconn* pConnection = PQconnectdbParams(keywords.data(), values.data(), 0);
	if (!pConnection)
	{
		error = "cannot connect to PostgreSQL at " + _parameters.endpoint() + ": out of memory";
		return nullptr;
	}
	if (PQstatus(pConnection) != CONNECTION_OK)
	{
		error = "cannot connect to PostgreSQL at " + _parameters.endpoint() + " (database " + _parameters.database +
		        ", user " + _parameters.user + "): " + oneLine(PQerrorMessage(pConnection));
		PQfinish(pConnection);
		reportFailure(error);
		return nullptr;
	}
	return std::make_unique<PostgresConnection>(pConnection, _parameters.endpoint());
}


PostgresPool::Lease PostgresPool::acquire(std::string& error)
{
	const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(_parameters.acquireTimeoutMs);
	std::unique_lock<std::mutex> lock(_mutex);
	for (;;)
	{
		while (!_idle.empty())
		{
			std::unique_ptr<PostgresConnection> pConnection = std::move(_idle.back());
			_idle.pop_back();
			++_busy;
			lock.unlock();
			if (pConnection->idleAndAlive())
				return Lease(shared_from_this(), std::move(pConnection));
			pConnection.reset(); // closed by the server meanwhile (a restart): connect anew
			lock.lock();
			--_busy;
		}
		if (_busy < _parameters.poolSize)
		{
			++_busy;
			lock.unlock();
			std::unique_ptr<PostgresConnection> pConnection = connect(error);
			if (pConnection)
				return Lease(shared_from_this(), std::move(pConnection));
			lock.lock();
			--_busy;
			_freed.notify_one();
			return Lease();
		}
		if (!_freed.wait_until(lock, deadline, [this] { return !_idle.empty() || _busy < _parameters.poolSize; }))
		{
			error = "all " + std::to_string(_parameters.poolSize) + " PostgreSQL connections to " +
			        _parameters.endpoint() + " stayed busy for " + std::to_string(_parameters.acquireTimeoutMs) + " ms";
			return Lease();
		}
	}
}


void PostgresPool::release(std::unique_ptr<PostgresConnection> pConnection)
{
	if (pConnection->broken() || pConnection->inTransaction())
	{
		if (pConnection->broken())
			reportFailure("lost a connection to PostgreSQL at " + _parameters.endpoint() +
			              "; the next statement connects anew");
		pConnection.reset();
	}
	std::lock_guard<std::mutex> lock(_mutex);
	if (pConnection)
		_idle.push_back(std::move(pConnection));
	--_busy;
	_freed.notify_one();
}


void PostgresPool::reportFailure(const std::string& message)
{
	// A server that is down fails every statement: one line per 10 s tells the operator.
	const auto now = std::chrono::steady_clock::now();
	std::lock_guard<std::mutex> lock(_mutex);
	++_unreported;
	if (_lastReport.time_since_epoch().count() != 0 && now - _lastReport < std::chrono::seconds(10))
		return;
	Poco::Logger::get("storage").warning(message + " (" + std::to_string(_unreported) +
	                                     " connection failures since the last report)");
	_lastReport = now;
	_unreported = 0;
}


} // namespace Core
} // namespace Switchboard
