//
// RespFuzz.cpp
//
// Fuzz target: the RESP2 reply parser the cluster reads Redis with (host/src/cluster/Resp.h).
// Input: one byte choosing how to split, then the byte stream. Checks: fed in pieces it yields
// exactly the values (and the error, at the same value) it yields fed whole; it never holds more
// than it was given; and every value, encoded again by an independent writer here, parses back to
// itself.
//


#include "FuzzSupport.h"
#include "cluster/Resp.h"
#include <string>
#include <vector>


using Switchboard::Cluster::RespParser;
using Switchboard::Cluster::RespProtocolError;
using Switchboard::Cluster::RespValue;
using Switchboard::Test::FuzzInput;


namespace {

constexpr std::size_t MAX_BULK = 4096;

struct Outcome
{
	std::vector<RespValue> values;
	bool failed = false;
};

bool equal(const RespValue& a, const RespValue& b)
{
	if (a.type != b.type || a.text != b.text || a.integer != b.integer || a.elements.size() != b.elements.size())
		return false;
	for (std::size_t i = 0; i < a.elements.size(); ++i)
	{
		if (!equal(a.elements[i], b.elements[i]))
			return false;
	}
	return true;
}

// The reference writer: RESP2 as the protocol page describes it.
void write(const RespValue& v, std::string& out)
{
	switch (v.type)
	{
		case RespValue::Type::SIMPLE:
			out += "+" + v.text + "\r\n";
			break;
		case RespValue::Type::ERROR:
			out += "-" + v.text + "\r\n";
			break;
		case RespValue::Type::INTEGER:
			out += ":" + std::to_string(v.integer) + "\r\n";
			break;
		case RespValue::Type::BULK:
			out += "$" + std::to_string(v.text.size()) + "\r\n" + v.text + "\r\n";
			break;
		case RespValue::Type::NIL:
			out += "$-1\r\n";
			break;
		case RespValue::Type::ARRAY:
			out += "*" + std::to_string(v.elements.size()) + "\r\n";
			for (const auto& e : v.elements)
				write(e, out);
			break;
	}
}

Outcome parse(const std::string& stream, std::size_t piece)
{
	Outcome outcome;
	RespParser parser(MAX_BULK);
	std::size_t fed = 0;
	try
	{
		for (std::size_t i = 0; i < stream.size(); i += piece)
		{
			std::size_t n = std::min(piece, stream.size() - i);
			parser.feed(stream.data() + i, n);
			fed += n;
			RespValue v;
			while (parser.next(v))
				outcome.values.push_back(v);
			FUZZ_CHECK(parser.buffered() <= fed);
		}
	}
	catch (const RespProtocolError&)
	{
		outcome.failed = true;
	}
	return outcome;
}

} // namespace


extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
	FuzzInput input(data, size);
	std::size_t piece = 1 + input.takeBelow(64);
	std::string stream(input.rest());

	Outcome whole = parse(stream, stream.size() + 1);
	Outcome split = parse(stream, piece);
	// A split stream can fail earlier only if the error shows in a piece before the value ends;
	// RESP errors are decided on complete lines, so both see the same values and the same error.
	FUZZ_CHECK_MSG(whole.failed == split.failed, "piece " + std::to_string(piece));
	FUZZ_CHECK(whole.values.size() == split.values.size());
	for (std::size_t i = 0; i < whole.values.size(); ++i)
	{
		FUZZ_CHECK(equal(whole.values[i], split.values[i]));
		// Simple strings and errors cannot hold CR or LF, so every parsed value has a RESP form.
		std::string again;
		write(whole.values[i], again);
		Outcome reread = parse(again, again.size() + 1);
		FUZZ_CHECK(!reread.failed && reread.values.size() == 1 && equal(reread.values[0], whole.values[i]));
	}
	return 0;
}
