//
// PeerJsEnvelopeFuzzTest.cpp
//
// Deterministic randomized test of the PeerJS envelope scanner against a separate recursive reference parser.
//


#include "TestRandom.h"
#include "Envelope.h"
#include "EnvelopeTestText.h"
#include "switchboard/Http.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>


using namespace Switchboard::PeerJs;
using namespace Switchboard::Test;


namespace {


void check(bool condition, const std::string& what)
/// CPPUNIT_ASSERT builds its message even when it passes; this keeps the loops fast.
{
	if (!condition)
		CPPUNIT_FAIL(what);
}


using Random = Switchboard::Test::TestRandom;


using Units = std::vector<std::uint16_t>;
/// A JavaScript string: UTF-16 code units, surrogates possibly unpaired.


using Switchboard::HttpText::appendUtf8; // encodes surrogate code points too (WTF-8)


bool isHigh(std::uint16_t unit)
{
	return unit >= 0xD800 && unit <= 0xDBFF;
}


bool isLow(std::uint16_t unit)
{
	return unit >= 0xDC00 && unit <= 0xDFFF;
}


std::string toWtf8(const Units& units)
/// The byte form the Envelope promises for a decoded string.
{
	std::string out;
	for (std::size_t i = 0; i < units.size(); ++i)
	{
		if (isHigh(units[i]) && i + 1 < units.size() && isLow(units[i + 1]))
		{
			appendUtf8(out, 0x10000 + ((units[i] - 0xD800u) << 10) + (units[i + 1] - 0xDC00u));
			++i;
		}
		else
			appendUtf8(out, units[i]);
	}
	return out;
}


std::string referenceStringify(const Units& units)
/// JSON.stringify of a JavaScript string, written from the ECMAScript QuoteJSONString steps.
{
	std::string out = "\"";
	for (std::size_t i = 0; i < units.size(); ++i)
	{
		const std::uint16_t u = units[i];
		char buffer[8];
		switch (u)
		{
			case 0x08:
				out += "\\b";
				continue;
			case 0x09:
				out += "\\t";
				continue;
			case 0x0A:
				out += "\\n";
				continue;
			case 0x0C:
				out += "\\f";
				continue;
			case 0x0D:
				out += "\\r";
				continue;
			case 0x22:
				out += "\\\"";
				continue;
			case 0x5C:
				out += "\\\\";
				continue;
			default:
				break;
		}
		if (u < 0x20)
		{
			std::snprintf(buffer, sizeof(buffer), "\\u%04x", u);
			out += buffer;
		}
		else if (isHigh(u) && i + 1 < units.size() && isLow(units[i + 1]))
		{
			appendUtf8(out, 0x10000 + ((u - 0xD800u) << 10) + (units[i + 1] - 0xDC00u));
			++i;
		}
		else if (isHigh(u) || isLow(u))
		{
			std::snprintf(buffer, sizeof(buffer), "\\u%04x", u);
			out += buffer;
		}
		else
			appendUtf8(out, u);
	}
	return out + "\"";
}


//
// The reference: a plain recursive-descent parser that follows the RFC 8259 grammar rule by
// rule. It is slow and simple on purpose, and shares no code with the scanner.
//
struct ReferenceResult
{
	EnvelopeStatus status = EnvelopeStatus::NOT_JSON;
	bool hasType = false;
	std::string type;
	bool hasDst = false;
	std::string dst;
	bool hasPayload = false;
	std::string payload;
};


class ReferenceParser
{
public:
	explicit ReferenceParser(std::string_view text):
	    _text(text)
	{
	}

	ReferenceResult run()
	{
		ReferenceResult result;
		skipWhitespace();
		const bool isObject = _pos < _text.size() && _text[_pos] == '{';
		std::string ignored;
		const bool valid = isObject ? topObject(result) : value(ignored, 1);
		skipWhitespace();
		if (!valid || _pos != _text.size())
			return ReferenceResult();
		result.status = isObject ? EnvelopeStatus::OK : EnvelopeStatus::NOT_OBJECT;
		return result;
	}

private:
	struct Piece
	/// One element of a string body: a raw byte, or a code unit from an escape.
	{
		bool raw;
		std::uint16_t value;
	};

	std::string_view _text;
	std::size_t _pos = 0;

	bool at(char c) const { return _pos < _text.size() && _text[_pos] == c; }

	void skipWhitespace()
	{
		while (_pos < _text.size() && std::string_view(" \t\n\r").find(_text[_pos]) != std::string_view::npos)
			++_pos;
	}

	bool topObject(ReferenceResult& result)
	{
		++_pos;
		skipWhitespace();
		if (at('}'))
		{
			++_pos;
			return true;
		}
		for (;;)
		{
			std::vector<Piece> key;
			std::string ignored;
			skipWhitespace();
			if (!string(key, ignored))
				return false;
			skipWhitespace();
			if (!at(':'))
				return false;
			++_pos;
			skipWhitespace();
			const std::string name = decode(key);
			std::vector<Piece> pieces;
			std::string compact;
			const bool isString = at('"');
			if (isString ? !string(pieces, compact) : !value(compact, 2))
				return false;
			if (name == "type")
			{
				result.hasType = isString;
				result.type = isString ? decode(pieces) : std::string();
			}
			else if (name == "dst")
			{
				result.hasDst = isString;
				result.dst = isString ? decode(pieces) : std::string();
			}
			else if (name == "payload")
			{
				result.hasPayload = true;
				result.payload = compact;
			}
			skipWhitespace();
			if (at('}'))
			{
				++_pos;
				return true;
			}
			if (!at(','))
				return false;
			++_pos;
		}
	}

	bool value(std::string& compact, int depth)
	/// Appends the value's text without whitespace to compact. depth counts this value.
	{
		if (_pos >= _text.size())
			return false;
		const char c = _text[_pos];
		if (c == '{' || c == '[')
		{
			if (depth > MAX_ENVELOPE_DEPTH)
				return false;
			const char close = c == '{' ? '}' : ']';
			compact += c;
			++_pos;
			skipWhitespace();
			if (at(close))
			{
				compact += close;
				++_pos;
				return true;
			}
			for (;;)
			{
				skipWhitespace();
				if (c == '{')
				{
					std::vector<Piece> key;
					if (!string(key, compact))
						return false;
					skipWhitespace();
					if (!at(':'))
						return false;
					compact += ':';
					++_pos;
					skipWhitespace();
				}
				if (!value(compact, depth + 1))
					return false;
				skipWhitespace();
				if (at(close))
				{
					compact += close;
					++_pos;
					return true;
				}
				if (!at(','))
					return false;
				compact += ',';
				++_pos;
			}
		}
		if (c == '"')
		{
			std::vector<Piece> ignored;
			return string(ignored, compact);
		}
		// A number or literal is a maximal run of the characters it may contain, then checked whole.
		const std::size_t start = _pos;
		while (
		    _pos < _text.size() &&
		    std::string_view("0123456789+-.eEabcdefghijklmnopqrstuvwxyzABCDFGHIJKLMNOPQRSTUVWXYZ").find(_text[_pos]) !=
		        std::string_view::npos)
			++_pos;
		const std::string_view token = _text.substr(start, _pos - start);
		if (token == "true" || token == "false" || token == "null" || isNumber(token))
		{
			compact += token;
			return true;
		}
		return false;
	}

	static bool isNumber(std::string_view t)
	{
		std::size_t i = 0;
		auto digits = [&]() {
			const std::size_t from = i;
			while (i < t.size() && t[i] >= '0' && t[i] <= '9')
				++i;
			return i - from;
		};
		if (i < t.size() && t[i] == '-')
			++i;
		if (i < t.size() && t[i] == '0')
			++i;
		else if (i >= t.size() || t[i] < '1' || t[i] > '9' || digits() == 0)
			return false;
		if (i < t.size() && t[i] == '.')
		{
			++i;
			if (digits() == 0)
				return false;
		}
		if (i < t.size() && (t[i] == 'e' || t[i] == 'E'))
		{
			++i;
			if (i < t.size() && (t[i] == '+' || t[i] == '-'))
				++i;
			if (digits() == 0)
				return false;
		}
		return i == t.size();
	}

	bool string(std::vector<Piece>& pieces, std::string& compact)
	{
		if (!at('"'))
			return false;
		const std::size_t start = _pos++;
		for (;;)
		{
			if (_pos >= _text.size())
				return false;
			const auto c = static_cast<unsigned char>(_text[_pos]);
			if (c == '"')
				break;
			if (c < 0x20)
				return false;
			if (c != '\\')
			{
				pieces.push_back({true, c});
				++_pos;
				continue;
			}
			if (_pos + 1 >= _text.size())
				return false;
			const char e = _text[_pos + 1];
			const std::string_view simple = "\"\\/bfnrt";
			const std::string_view meaning = "\"\\/\b\f\n\r\t";
			if (simple.find(e) != std::string_view::npos)
			{
				pieces.push_back({false, static_cast<std::uint16_t>(meaning[simple.find(e)])});
				_pos += 2;
				continue;
			}
			if (e != 'u' || _pos + 6 > _text.size())
				return false;
			unsigned unit = 0;
			for (std::size_t k = _pos + 2; k < _pos + 6; ++k)
			{
				const std::string_view hex = "0123456789abcdef";
				const char lower =
				    (_text[k] >= 'A' && _text[k] <= 'F') ? static_cast<char>(_text[k] - 'A' + 'a') : _text[k];
				if (hex.find(lower) == std::string_view::npos)
					return false;
				unit = unit * 16 + static_cast<unsigned>(hex.find(lower));
			}
			pieces.push_back({false, static_cast<std::uint16_t>(unit)});
			_pos += 6;
		}
		++_pos;
		compact += _text.substr(start, _pos - start);
		return true;
	}

	static std::string decode(const std::vector<Piece>& pieces)
	{
		std::string out;
		for (std::size_t i = 0; i < pieces.size(); ++i)
		{
			if (pieces[i].raw)
				out += static_cast<char>(pieces[i].value);
			else if (isHigh(pieces[i].value) && i + 1 < pieces.size() && !pieces[i + 1].raw &&
			         isLow(pieces[i + 1].value))
			{
				appendUtf8(out, 0x10000 + ((pieces[i].value - 0xD800u) << 10) + (pieces[i + 1].value - 0xDC00u));
				++i;
			}
			else
				appendUtf8(out, pieces[i].value);
		}
		return out;
	}
};


//
// The generator: random valid documents, written twice, compact and with random whitespace.
//
class Generator
{
public:
	explicit Generator(Random& random):
	    _random(random)
	{
	}

	Units randomUnits(std::size_t maxLength)
	{
		Units units;
		const std::size_t length = _random.below(maxLength + 1);
		while (units.size() < length)
		{
			const std::size_t kind = _random.below(100);
			if (kind < 40)
				units.push_back(static_cast<std::uint16_t>(0x20 + _random.below(0x5F)));
			else if (kind < 50)
				units.push_back(static_cast<std::uint16_t>(_random.below(0x20)));
			else if (kind < 62)
				units.push_back(static_cast<std::uint16_t>(0x80 + _random.below(0x780)));
			else if (kind < 72)
			{
				std::uint16_t unit;
				do
					unit = static_cast<std::uint16_t>(0x800 + _random.below(0xF800));
				while (unit >= 0xD800 && unit <= 0xDFFF);
				units.push_back(unit);
			}
			else if (kind < 82)
			{
				units.push_back(static_cast<std::uint16_t>(0xD800 + _random.below(0x400)));
				units.push_back(static_cast<std::uint16_t>(0xDC00 + _random.below(0x400)));
			}
			else if (kind < 92)
				units.push_back(static_cast<std::uint16_t>(0xD800 + _random.below(0x800)));
			else
			{
				static const std::uint16_t special[] = {'"',    '\\',   '/',    0x2028, 0x2029,
				                                        0xFFFF, 0xD7FF, 0xE000, 0x7F,   0xFEFF};
				units.push_back(special[_random.below(sizeof(special) / sizeof(special[0]))]);
			}
		}
		return units;
	}

	std::string encodeString(const Units& units, unsigned escapePercent)
	/// A JSON string literal for units, each character written raw or escaped at random.
	{
		std::string out = "\"";
		for (std::size_t i = 0; i < units.size(); ++i)
		{
			const std::uint16_t u = units[i];
			const bool pair = isHigh(u) && i + 1 < units.size() && isLow(units[i + 1]);
			const bool lone = !pair && (isHigh(u) || isLow(u));
			const bool mustEscape = u < 0x20 || u == '"' || u == '\\' || lone;
			if (mustEscape || _random.percent(escapePercent))
			{
				const std::string_view shortFrom = "\"\\/\b\f\n\r\t";
				const std::string_view shortTo = "\"\\/bfnrt";
				if (u < 0x80 && shortFrom.find(static_cast<char>(u)) != std::string_view::npos && _random.percent(70))
				{
					out += '\\';
					out += shortTo[shortFrom.find(static_cast<char>(u))];
				}
				else
				{
					appendEscape(out, u);
					if (pair)
						appendEscape(out, units[++i]);
				}
			}
			else if (pair)
			{
				appendUtf8(out, 0x10000 + ((u - 0xD800u) << 10) + (units[i + 1] - 0xDC00u));
				++i;
			}
			else
				appendUtf8(out, u);
		}
		return out + "\"";
	}

	void whitespace(std::string& spaced)
	{
		if (!_spacing || !_random.percent(30))
			return;
		const std::size_t count = 1 + _random.below(3);
		for (std::size_t i = 0; i < count; ++i)
			spaced += " \t\n\r"[_random.below(4)];
	}

	void value(std::string& compact, std::string& spaced, int depth)
	{
		const std::size_t kind = _random.below(depth > 5 ? 5 : 9);
		if (kind < 5)
		{
			std::string text;
			if (kind == 0)
				text = encodeString(randomUnits(12), 20);
			else if (kind == 1)
				text = number();
			else
				text = kind == 2 ? "true" : (kind == 3 ? "false" : "null");
			compact += text;
			spaced += text;
			return;
		}
		const bool isObject = kind < 7;
		compact += isObject ? '{' : '[';
		spaced += isObject ? '{' : '[';
		const std::size_t count = _random.below(5);
		for (std::size_t i = 0; i < count; ++i)
		{
			if (i > 0)
			{
				compact += ',';
				spaced += ',';
			}
			whitespace(spaced);
			if (isObject)
			{
				const std::string key = encodeString(randomKeyUnits(), 20);
				compact += key + ':';
				spaced += key;
				whitespace(spaced);
				spaced += ':';
				whitespace(spaced);
			}
			value(compact, spaced, depth + 1);
			whitespace(spaced);
		}
		if (count == 0)
			whitespace(spaced);
		compact += isObject ? '}' : ']';
		spaced += isObject ? '}' : ']';
	}

	Units randomKeyUnits()
	{
		static const char* const names[] = {"type", "dst", "payload", "src", "Type", "payloads", "ds", ""};
		if (_random.percent(60))
		{
			const char* name = names[_random.below(sizeof(names) / sizeof(names[0]))];
			return Units(name, name + std::char_traits<char>::length(name));
		}
		return randomUnits(6);
	}

	std::string number()
	{
		std::string out;
		if (_random.percent(30))
			out += '-';
		if (_random.percent(20))
			out += '0';
		else
		{
			out += static_cast<char>('1' + _random.below(9));
			for (std::size_t n = _random.below(6); n > 0; --n)
				out += static_cast<char>('0' + _random.below(10));
		}
		if (_random.percent(30))
		{
			out += '.';
			for (std::size_t n = 1 + _random.below(4); n > 0; --n)
				out += static_cast<char>('0' + _random.below(10));
		}
		if (_random.percent(20))
		{
			out += _random.percent(50) ? 'e' : 'E';
			if (_random.percent(60))
				out += _random.percent(50) ? '+' : '-';
			for (std::size_t n = 1 + _random.below(3); n > 0; --n)
				out += static_cast<char>('0' + _random.below(10));
		}
		return out;
	}

	struct Document
	{
		std::string text;
		ReferenceResult expected;
		Units typeUnits;
		Units dstUnits;
		bool compact = false; // no insignificant whitespace anywhere
	};

	Document document()
	/// A top-level object with routing members among others, the expected result tracked as written.
	{
		Document doc;
		_spacing = _random.percent(70);
		doc.compact = !_spacing;
		doc.expected.status = EnvelopeStatus::OK;
		whitespace(doc.text);
		doc.text += '{';
		const std::size_t count = _random.below(8);
		for (std::size_t i = 0; i < count; ++i)
		{
			if (i > 0)
				doc.text += ',';
			whitespace(doc.text);
			const std::size_t which = _random.below(5); // type, dst, payload, src, other
			static const char* const routing[] = {"type", "dst", "payload", "src"};
			Units keyUnits =
			    which < 4 ? Units(routing[which], routing[which] + std::char_traits<char>::length(routing[which]))
			              : randomKeyUnits();
			doc.text += encodeString(keyUnits, 25);
			whitespace(doc.text);
			doc.text += ':';
			whitespace(doc.text);
			const std::string key = toWtf8(keyUnits);
			if ((key == "type" || key == "dst") && _random.percent(80))
			{
				const Units units = randomUnits(_random.percent(50) ? 10 : 40);
				doc.text += encodeString(units, 15);
				(key == "type" ? doc.typeUnits : doc.dstUnits) = units;
				(key == "type" ? doc.expected.hasType : doc.expected.hasDst) = true;
				(key == "type" ? doc.expected.type : doc.expected.dst) = toWtf8(units);
			}
			else
			{
				// For type and dst this branch means "not a string", so retry until it is not.
				std::string compact;
				std::string spaced;
				do
				{
					compact.clear();
					spaced.clear();
					value(compact, spaced, 1);
				} while ((key == "type" || key == "dst") && compact[0] == '"');
				doc.text += spaced;
				if (key == "type" || key == "dst")
				{
					(key == "type" ? doc.expected.hasType : doc.expected.hasDst) = false;
					(key == "type" ? doc.expected.type : doc.expected.dst).clear();
					(key == "type" ? doc.typeUnits : doc.dstUnits).clear();
				}
				else if (key == "payload")
				{
					doc.expected.hasPayload = true;
					doc.expected.payload = compact;
				}
			}
			whitespace(doc.text);
		}
		doc.text += '}';
		whitespace(doc.text);
		return doc;
	}

	std::string mutate(std::string text)
	{
		static const char alphabet[] = "{}[],:\"\\ \t\n\r0123456789-+.eEtrufalsn/u'xA\x00\x01\x1F\x7F\xC3\xA9\xED\xFF";
		const std::size_t edits = 1 + _random.below(3);
		for (std::size_t e = 0; e < edits; ++e)
		{
			const std::size_t op = _random.below(6);
			const std::size_t at = text.empty() ? 0 : _random.below(text.size());
			const char c = _random.percent(80) ? alphabet[_random.below(sizeof(alphabet) - 1)]
			                                   : static_cast<char>(_random.below(256));
			if (op == 0 && !text.empty())
				text[at] = c;
			else if (op == 1)
				text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), c);
			else if (op == 2 && !text.empty())
				text.erase(at, 1 + _random.below(3));
			else if (op == 3)
				text.resize(at);
			else if (op == 4 && !text.empty())
			{
				const std::size_t length = 1 + _random.below(std::min<std::size_t>(20, text.size() - at));
				text.insert(_random.below(text.size() + 1), text.substr(at, length));
			}
			else if (!text.empty())
				std::swap(text[at], text[_random.below(text.size())]);
		}
		return text;
	}

	std::string tokenSoup()
	/// Random sequences of JSON tokens: mostly wrong, sometimes valid, always near the grammar.
	{
		static const char* const tokens[] = {"{",         "}",           "[",        "]",
		                                     ",",         ":",           " ",        "\"type\"",
		                                     "\"dst\"",   "\"payload\"", "\"x\"",    "\"\\u0074ype\"",
		                                     "1",         "-0.5e+3",     "true",     "null",
		                                     "\"OFFER\"", "\"\\ud800\"", "\"\\\"\"", "\n"};
		std::string out;
		for (std::size_t n = _random.below(24); n > 0; --n)
			out += tokens[_random.below(sizeof(tokens) / sizeof(tokens[0]))];
		return out;
	}

private:
	Random& _random;
	bool _spacing = true;

	static void appendEscape(std::string& out, std::uint16_t unit)
	{
		char buffer[8];
		std::snprintf(buffer, sizeof(buffer), "\\u%04x", unit);
		for (int k = 2; k < 6; ++k)
			if (buffer[k] >= 'a' && (unit & (1u << k)))
				buffer[k] = static_cast<char>(buffer[k] - 'a' + 'A');
		out += buffer;
	}
};


const char* statusName(EnvelopeStatus status)
{
	return status == EnvelopeStatus::OK ? "OK" : (status == EnvelopeStatus::NOT_JSON ? "NOT_JSON" : "NOT_OBJECT");
}


void compare(const ReferenceResult& expected, std::string_view text, Envelope& envelope, const char* source)
/// Parses text into envelope and checks every member against expected.
{
	const EnvelopeStatus status = parseEnvelope(text, envelope);
	const std::string where = std::string(source) + ": " + printable(text, 400);
	check(status == expected.status,
	      where + "\n  status " + statusName(status) + ", expected " + statusName(expected.status));
	check(envelope.hasType == expected.hasType && envelope.type == expected.type,
	      where + "\n  type [" + printable(envelope.type, 400) + "], expected [" + printable(expected.type, 400) + "]");
	check(envelope.hasDst == expected.hasDst && envelope.dst == expected.dst,
	      where + "\n  dst [" + printable(envelope.dst, 400) + "], expected [" + printable(expected.dst, 400) + "]");
	check(envelope.hasPayload == expected.hasPayload && envelope.payload == expected.payload,
	      where + "\n  payload [" + printable(envelope.payload, 400) + "], expected [" +
	          printable(expected.payload, 400) + "]");
}


} // namespace


class PeerJsEnvelopeFuzzTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerJsEnvelopeFuzzTest);
	CPPUNIT_TEST(testReferenceAgreesOnExamples);
	CPPUNIT_TEST(testGeneratedDocuments);
	CPPUNIT_TEST(testMutatedDocuments);
	CPPUNIT_TEST(testRandomBytesAndTokens);
	CPPUNIT_TEST(testDeepNesting);
	CPPUNIT_TEST(testStringifyRandomStrings);
	CPPUNIT_TEST_SUITE_END();

public:
	void testReferenceAgreesOnExamples()
	{
		// The reference itself must be right for the comparisons to mean anything.
		ReferenceResult r =
		    ReferenceParser(R"( {"type":"OFFER", "payload" : [ 1 , {"a" : "b c"} ], "dst":"\u0042"} )").run();
		CPPUNIT_ASSERT(r.status == EnvelopeStatus::OK);
		CPPUNIT_ASSERT_EQUAL(std::string("OFFER"), r.type);
		CPPUNIT_ASSERT_EQUAL(std::string("B"), r.dst);
		CPPUNIT_ASSERT_EQUAL(std::string(R"([1,{"a":"b c"}])"), r.payload);
		CPPUNIT_ASSERT(ReferenceParser("[01]").run().status == EnvelopeStatus::NOT_JSON);
		CPPUNIT_ASSERT(ReferenceParser("[1,]").run().status == EnvelopeStatus::NOT_JSON);
		CPPUNIT_ASSERT(ReferenceParser("[-0.0e-0]").run().status == EnvelopeStatus::NOT_OBJECT);
		CPPUNIT_ASSERT(ReferenceParser("\"\\ud83d\\ude00\"").run().status == EnvelopeStatus::NOT_OBJECT);
		CPPUNIT_ASSERT(ReferenceParser("{\"type\":\"\\ud83d\\ude00\"}").run().type == "\xF0\x9F\x98\x80");
		CPPUNIT_ASSERT(ReferenceParser("{\"type\":\"A\",\"type\":true}").run().hasType == false);
		CPPUNIT_ASSERT_EQUAL(std::string(R"("\ud800\u001f\"\\a")"),
		                     referenceStringify(Units{0xD800, 0x1F, '"', '\\', 'a'}));
	}

	void testGeneratedDocuments()
	{
		Random random(0x5EED0001);
		Generator generator(random);
		Envelope reused;
		for (int i = 0; i < 4000; ++i)
		{
			const Generator::Document doc = generator.document();
			compare(doc.expected, doc.text, reused, "generated");
			// The independent reference agrees with what the generator wrote.
			const ReferenceResult reference = ReferenceParser(doc.text).run();
			check(reference.status == EnvelopeStatus::OK && reference.type == doc.expected.type &&
			          reference.dst == doc.expected.dst && reference.payload == doc.expected.payload,
			      "reference disagrees with the generator: " + printable(doc.text, 400));

			// The relayed frame is JSON.stringify's output, and parses back to the same members.
			const std::string frame =
			    relayFrame(reused.type, "src", reused.dst, reused.hasPayload ? &reused.payload : nullptr);
			std::string expectedFrame = "{\"type\":" + referenceStringify(doc.typeUnits) +
			                            ",\"src\":\"src\",\"dst\":" + referenceStringify(doc.dstUnits);
			if (doc.expected.hasPayload)
				expectedFrame += ",\"payload\":" + doc.expected.payload;
			expectedFrame += "}";
			check(frame == expectedFrame, printable(doc.text, 400) + "\n  relayed  " + printable(frame, 400) +
			                                  "\n  expected " + printable(expectedFrame, 400));
			Envelope again;
			check(parseEnvelope(frame, again) == EnvelopeStatus::OK && again.type == reused.type &&
			          again.dst == reused.dst && again.hasPayload == reused.hasPayload &&
			          again.payload == reused.payload,
			      "relayed frame does not parse back: " + printable(frame, 400));
			check(!again.hasPayload || again.payload.data() > frame.data(), "relayed payload not zero-copy");
			if (doc.compact && reused.hasPayload)
			{
				const char* data = reused.payload.data();
				check(data > doc.text.data() && data < doc.text.data() + doc.text.size(),
				      "compact payload not zero-copy: " + printable(doc.text, 400));
			}
		}
	}

	void testMutatedDocuments()
	{
		Random random(0x5EED0002);
		Generator generator(random);
		Envelope reused;
		int ok = 0;
		int notJson = 0;
		for (int i = 0; i < 30000; ++i)
		{
			const std::string text = generator.mutate(generator.document().text);
			const ReferenceResult expected = ReferenceParser(text).run();
			compare(expected, text, reused, "mutated");
			(expected.status == EnvelopeStatus::OK ? ok : notJson) += 1;
		}
		// Both outcomes must be well represented, or the mutations test nothing.
		CPPUNIT_ASSERT(ok > 1000);
		CPPUNIT_ASSERT(notJson > 10000);
	}

	void testRandomBytesAndTokens()
	{
		Random random(0x5EED0003);
		Generator generator(random);
		Envelope reused;
		int valid = 0;
		for (int i = 0; i < 10000; ++i)
		{
			std::string text(random.below(40), '\0');
			for (char& c : text)
				c = static_cast<char>(random.below(256));
			compare(ReferenceParser(text).run(), text, reused, "bytes");
			const std::string soup = generator.tokenSoup();
			const ReferenceResult expected = ReferenceParser(soup).run();
			compare(expected, soup, reused, "tokens");
			valid += expected.status != EnvelopeStatus::NOT_JSON;
		}
		CPPUNIT_ASSERT(valid > 100);
	}

	void testDeepNesting()
	{
		Random random(0x5EED0004);
		Generator generator(random);
		Envelope reused;
		for (int i = 0; i < 200; ++i)
		{
			const std::size_t depth = MAX_ENVELOPE_DEPTH - 5 + random.below(10);
			std::string text;
			const bool top = random.percent(50);
			if (top)
				text = "{\"payload\":";
			std::vector<char> closes;
			for (std::size_t d = top ? 1 : 0; d < depth; ++d)
			{
				const bool object = random.percent(30);
				text += object ? "{\"k\":" : (random.percent(50) ? "[" : "[ 0, ");
				closes.push_back(object ? '}' : ']');
			}
			text += "1";
			for (auto it = closes.rbegin(); it != closes.rend(); ++it)
				text += *it;
			if (top)
				text += "}";
			if (random.percent(50))
				text = generator.mutate(text);
			compare(ReferenceParser(text).run(), text, reused, "deep");
		}
	}

	void testStringifyRandomStrings()
	{
		Random random(0x5EED0005);
		Generator generator(random);
		for (int i = 0; i < 5000; ++i)
		{
			const Units units = generator.randomUnits(30);
			std::string out;
			Switchboard::Json::appendString(out, toWtf8(units));
			const std::string expected = referenceStringify(units);
			check(out == expected, "stringify " + printable(out, 400) + ", expected " + printable(expected, 400));
		}
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerJsEnvelopeFuzzTest);
