//
// Resp.h
//
// The Redis serialisation protocol (RESP2): commands encoded as arrays of bulk strings, replies
// parsed incrementally from whatever bytes have arrived. Pure code: no sockets, no threads.
//


#ifndef Switchboard_Cluster_Resp_INCLUDED
#define Switchboard_Cluster_Resp_INCLUDED


#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>


namespace Switchboard {
namespace Cluster {


struct RespValue
{
	enum class Type
	{
		SIMPLE,  ///< +OK
		ERROR,   ///< -ERR ...
		INTEGER, ///< :42
		BULK,    ///< $3 abc
		NIL,     ///< $-1 or *-1
		ARRAY    ///< *2 ...
	};

	Type type = Type::NIL;
	std::string text; ///< SIMPLE, ERROR and BULK
	std::int64_t integer = 0;
	std::vector<RespValue> elements;

	bool isError() const { return type == Type::ERROR; }
	bool isNil() const { return type == Type::NIL; }
	bool isText() const { return type == Type::SIMPLE || type == Type::BULK; }
};


class RespProtocolError: public std::runtime_error
{
public:
	using std::runtime_error::runtime_error;
};


void appendCommand(std::string& out, const std::vector<std::string_view>& arguments);
/// Appends one command as a RESP array of bulk strings (binary-safe).


class RespParser
/// Feed bytes as they arrive; next() yields each complete reply once. A malformed stream throws
/// RespProtocolError (the connection must then be dropped: its framing is lost).
{
public:
	static constexpr std::size_t DEFAULT_MAX_BULK = 64u << 20;

	explicit RespParser(std::size_t maxBulk = DEFAULT_MAX_BULK):
	    _maxBulk(maxBulk)
	{
	}

	void feed(const char* data, std::size_t size);
	bool next(RespValue& out);
	/// True and the reply in out when one is complete; false when more bytes are needed.
	std::size_t buffered() const { return _buffer.size() - _start; }
	void reset();

private:
	// Parses one value at pos; returns false (pos unchanged in effect) when incomplete.
	bool parse(std::size_t& pos, RespValue& out, int depth);
	bool line(std::size_t& pos, std::string_view& text);
	std::int64_t number(std::string_view text) const;

	std::string _buffer;
	std::size_t _start = 0;
	std::size_t _maxBulk;
};


} // namespace Cluster
} // namespace Switchboard


#endif // Switchboard_Cluster_Resp_INCLUDED
