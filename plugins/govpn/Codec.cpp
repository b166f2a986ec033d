//
// Codec.cpp
//


#include "Codec.h"
#include "switchboard/util/HttpText.h"
#include <sodium.h>


namespace Switchboard {
namespace Govpn {


namespace {


const int MAX_DEPTH = 64; // deeper input is refused rather than recursed into

bool isJsonSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}


int hexValue(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}


} // namespace


bool isUtf8(std::string_view text)
{
	std::size_t i = 0;
	const std::size_t n = text.size();
	while (i < n)
	{
		unsigned char c = static_cast<unsigned char>(text[i]);
		if (c < 0x80)
		{
			++i;
			continue;
		}
		std::size_t length = 0;
		std::uint32_t cp = 0;
		if ((c & 0xE0) == 0xC0)
		{
			length = 2;
			cp = c & 0x1F;
		}
		else if ((c & 0xF0) == 0xE0)
		{
			length = 3;
			cp = c & 0x0F;
		}
		else if ((c & 0xF8) == 0xF0)
		{
			length = 4;
			cp = c & 0x07;
		}
		else
			return false;
		if (n - i < length)
			return false;
		for (std::size_t k = 1; k < length; ++k)
		{
			unsigned char cc = static_cast<unsigned char>(text[i + k]);
			if ((cc & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (cc & 0x3F);
		}
		// Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
		if ((length == 2 && cp < 0x80) || (length == 3 && cp < 0x800) || (length == 4 && cp < 0x10000) ||
		    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += length;
	}
	return true;
}


// --- JsonDocument --------------------------------------------------------------------------------


bool JsonDocument::parse(std::string text)
{
	_text = std::move(text);
	_nodes.clear();
	if (!isUtf8(_text))
		return false;
	std::size_t pos = 0;
	std::size_t index = 0;
	skipWhitespace(pos);
	if (!parseValue(pos, 0, index))
	{
		_nodes.clear();
		return false;
	}
	skipWhitespace(pos);
	if (pos != _text.size())
	{
		_nodes.clear();
		return false;
	}
	return true;
}


void JsonDocument::skipWhitespace(std::size_t& pos) const
{
	while (pos < _text.size() && isJsonSpace(_text[pos]))
		++pos;
}


bool JsonDocument::parseValue(std::size_t& pos, int depth, std::size_t& index)
{
	if (depth > MAX_DEPTH || pos >= _text.size())
		return false;
	index = _nodes.size();
	_nodes.emplace_back();
	_nodes[index].begin = pos;
	char c = _text[pos];
	if (c == '{')
	{
		_nodes[index].kind = JsonKind::OBJECT;
		++pos;
		skipWhitespace(pos);
		if (pos < _text.size() && _text[pos] == '}')
			++pos;
		else
		{
			while (true)
			{
				skipWhitespace(pos);
				std::string key;
				if (pos >= _text.size() || _text[pos] != '"' || !parseString(pos, key))
					return false;
				skipWhitespace(pos);
				if (pos >= _text.size() || _text[pos] != ':')
					return false;
				++pos;
				skipWhitespace(pos);
				std::size_t child = 0;
				if (!parseValue(pos, depth + 1, child))
					return false;
				_nodes[index].members.emplace_back(std::move(key), child);
				skipWhitespace(pos);
				if (pos < _text.size() && _text[pos] == ',')
				{
					++pos;
					continue;
				}
				if (pos < _text.size() && _text[pos] == '}')
				{
					++pos;
					break;
				}
				return false;
			}
		}
	}
	else if (c == '[')
	{
		_nodes[index].kind = JsonKind::ARRAY;
		++pos;
		skipWhitespace(pos);
		if (pos < _text.size() && _text[pos] == ']')
			++pos;
		else
		{
			while (true)
			{
				skipWhitespace(pos);
				std::size_t child = 0;
				if (!parseValue(pos, depth + 1, child))
					return false;
				skipWhitespace(pos);
				if (pos < _text.size() && _text[pos] == ',')
				{
					++pos;
					continue;
				}
				if (pos < _text.size() && _text[pos] == ']')
				{
					++pos;
					break;
				}
				return false;
			}
		}
	}
	else if (c == '"')
	{
		_nodes[index].kind = JsonKind::STRING;
		std::string value;
		if (!parseString(pos, value))
			return false;
		_nodes[index].text = std::move(value);
	}
	else if (_text.compare(pos, 4, "true") == 0)
	{
		_nodes[index].kind = JsonKind::BOOLEAN;
		_nodes[index].boolean = true;
		pos += 4;
	}
	else if (_text.compare(pos, 5, "false") == 0)
	{
		_nodes[index].kind = JsonKind::BOOLEAN;
		pos += 5;
	}
	else if (_text.compare(pos, 4, "null") == 0)
	{
		_nodes[index].kind = JsonKind::NUL;
		pos += 4;
	}
	else
	{
		_nodes[index].kind = JsonKind::NUMBER;
		if (!parseNumber(pos))
			return false;
	}
	_nodes[index].end = pos;
	return true;
}


bool JsonDocument::parseString(std::size_t& pos, std::string& out)
{
	++pos; // the opening quote
	while (pos < _text.size())
	{
		char c = _text[pos];
		if (c == '"')
		{
			++pos;
			return true;
		}
		if (static_cast<unsigned char>(c) < 0x20)
			return false;
		if (c != '\\')
		{
			out += c;
			++pos;
			continue;
		}
		if (pos + 1 >= _text.size())
			return false;
		char e = _text[pos + 1];
		pos += 2;
		switch (e)
		{
			case '"':
				out += '"';
				break;
			case '\\':
				out += '\\';
				break;
			case '/':
				out += '/';
				break;
			case 'b':
				out += '\b';
				break;
			case 'f':
				out += '\f';
				break;
			case 'n':
				out += '\n';
				break;
			case 'r':
				out += '\r';
				break;
			case 't':
				out += '\t';
				break;
			case 'u':
			{
				auto readHex4 = [this](std::size_t at, std::uint32_t& value) {
					if (at + 4 > _text.size())
						return false;
					value = 0;
					for (std::size_t k = 0; k < 4; ++k)
					{
						int h = hexValue(_text[at + k]);
						if (h < 0)
							return false;
						value = (value << 4) | static_cast<std::uint32_t>(h);
					}
					return true;
				};
				std::uint32_t cp = 0;
				if (!readHex4(pos, cp))
					return false;
				pos += 4;
				if (cp >= 0xD800 && cp <= 0xDBFF)
				{
					std::uint32_t low = 0;
					if (pos + 1 < _text.size() && _text[pos] == '\\' && _text[pos + 1] == 'u' &&
					    readHex4(pos + 2, low) && low >= 0xDC00 && low <= 0xDFFF)
					{
						pos += 6;
						cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
					}
					else
						cp = 0xFFFD; // a lone surrogate, as Go decodes it
				}
				else if (cp >= 0xDC00 && cp <= 0xDFFF)
					cp = 0xFFFD;
				HttpText::appendUtf8(out, cp);
				break;
			}
			default:
				return false;
		}
	}
	return false;
}


bool JsonDocument::parseNumber(std::size_t& pos)
{
	auto digit = [this](std::size_t at) { return at < _text.size() && _text[at] >= '0' && _text[at] <= '9'; };
	if (pos < _text.size() && _text[pos] == '-')
		++pos;
	if (!digit(pos))
		return false;
	if (_text[pos] == '0')
		++pos;
	else
		while (digit(pos))
			++pos;
	if (pos < _text.size() && _text[pos] == '.')
	{
		++pos;
		if (!digit(pos))
			return false;
		while (digit(pos))
			++pos;
	}
	if (pos < _text.size() && (_text[pos] == 'e' || _text[pos] == 'E'))
	{
		++pos;
		if (pos < _text.size() && (_text[pos] == '+' || _text[pos] == '-'))
			++pos;
		if (!digit(pos))
			return false;
		while (digit(pos))
			++pos;
	}
	return true;
}


const JsonNode* JsonDocument::member(const JsonNode& object, std::string_view key) const
{
	for (auto it = object.members.rbegin(); it != object.members.rend(); ++it)
		if (it->first == key)
			return &_nodes[it->second];
	return nullptr;
}


std::string_view JsonDocument::raw(const JsonNode& node) const
{
	return std::string_view(_text).substr(node.begin, node.end - node.begin);
}


std::string JsonDocument::compact(const JsonNode& node) const
{
	std::string out;
	out.reserve(node.end - node.begin);
	bool inString = false;
	for (std::size_t i = node.begin; i < node.end; ++i)
	{
		char c = _text[i];
		if (inString)
		{
			out += c;
			if (c == '\\' && i + 1 < node.end)
				out += _text[++i];
			else if (c == '"')
				inString = false;
		}
		else if (c == '"')
		{
			inString = true;
			out += c;
		}
		else if (!isJsonSpace(c))
			out += c;
	}
	return out;
}


// --- output --------------------------------------------------------------------------------------


std::string& appendGoString(std::string& out, std::string_view text)
{
	static const char HEX[] = "0123456789abcdef";
	out += '"';
	for (std::size_t i = 0; i < text.size(); ++i)
	{
		unsigned char c = static_cast<unsigned char>(text[i]);
		switch (c)
		{
			case '"':
				out += "\\\"";
				break;
			case '\\':
				out += "\\\\";
				break;
			case '\n':
				out += "\\n";
				break;
			case '\r':
				out += "\\r";
				break;
			case '\t':
				out += "\\t";
				break;
			case '<':
			case '>':
			case '&':
				out += "\\u00";
				out += HEX[c >> 4];
				out += HEX[c & 0xF];
				break;
			default:
				if (c < 0x20)
				{
					out += "\\u00";
					out += HEX[c >> 4];
					out += HEX[c & 0xF];
				}
				else if (c == 0xE2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
				         (static_cast<unsigned char>(text[i + 2]) == 0xA8 ||
				          static_cast<unsigned char>(text[i + 2]) == 0xA9))
				{
					out += static_cast<unsigned char>(text[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
					i += 2;
				}
				else
					out += static_cast<char>(c);
		}
	}
	out += '"';
	return out;
}


std::string goQuote(std::string_view text)
{
	std::string out;
	out.reserve(text.size() + 2);
	return appendGoString(out, text);
}


std::string base64Encode(std::string_view bytes)
{
	std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
	sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
	                  sodium_base64_VARIANT_ORIGINAL);
	out.resize(out.size() - 1); // the terminating NUL
	return out;
}


bool base64Decode(std::string_view text, std::string& bytes, const char* ignore)
{
	bytes.assign(text.size() / 4 * 3 + 3, '\0');
	std::size_t length = 0;
	if (sodium_base642bin(reinterpret_cast<unsigned char*>(bytes.data()), bytes.size(), text.data(), text.size(),
	                      ignore, &length, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
		return false;
	bytes.resize(length);
	return true;
}


void InnerWriter::key(std::string_view name)
{
	if (_out.size() > 1)
		_out += ',';
	appendGoString(_out, name);
	_out += ':';
}


InnerWriter& InnerWriter::string(std::string_view name, std::string_view value)
{
	key(name);
	appendGoString(_out, value);
	return *this;
}


InnerWriter& InnerWriter::integer(std::string_view name, std::int64_t value)
{
	key(name);
	_out += std::to_string(value);
	return *this;
}


InnerWriter& InnerWriter::boolean(std::string_view name, bool value)
{
	key(name);
	_out += value ? "true" : "false";
	return *this;
}


InnerWriter& InnerWriter::raw(std::string_view name, std::string_view json)
{
	key(name);
	_out += json;
	return *this;
}


std::string InnerWriter::finish()
{
	_out += '}';
	return std::move(_out);
}


std::string encodeFrame(std::string_view messageId, std::string_view type, std::string_view innerJson, PayloadForm form)
{
	std::string out;
	out.reserve(innerJson.size() * 4 / 3 + messageId.size() + type.size() + 48);
	out += "{\"message_id\":";
	appendGoString(out, messageId);
	out += ",\"type\":";
	appendGoString(out, type);
	out += ",\"payload\":";
	switch (form)
	{
		case PayloadForm::BASE64:
			out += '"';
			out += base64Encode(innerJson);
			out += '"';
			break;
		case PayloadForm::OBJECT:
			out += innerJson;
			break;
		case PayloadForm::JSON_STRING:
			appendGoString(out, innerJson);
			break;
	}
	out += "}\n";
	return out;
}


// --- inbound -------------------------------------------------------------------------------------


bool Payload::decode(const JsonDocument& envelope, const JsonNode& payload, PayloadForm form)
{
	_pEnvelope = &envelope;
	_pOwn.reset();
	_pObject = nullptr;
	const JsonNode* inner = &payload;
	if (form != PayloadForm::OBJECT)
	{
		std::string text;
		if (form == PayloadForm::JSON_STRING)
			text = payload.text;
		else if (!base64Decode(payload.text, text, "\r\n"))
			return false;
		_pOwn = std::make_unique<JsonDocument>();
		if (!_pOwn->parse(std::move(text)))
			return false;
		inner = &_pOwn->root();
	}
	if (inner->kind == JsonKind::NUL)
		return true;
	if (inner->kind != JsonKind::OBJECT)
		return false;
	_pObject = inner;
	return true;
}


const JsonNode* Payload::field(std::string_view name) const
{
	if (_pObject == nullptr)
		return nullptr;
	const JsonNode* node = document().member(*_pObject, name);
	return node == nullptr || node->kind == JsonKind::NUL ? nullptr : node;
}


bool Payload::stringField(std::string_view name, std::string& value) const
{
	value.clear();
	const JsonNode* node = field(name);
	if (node == nullptr)
		return true;
	if (node->kind != JsonKind::STRING)
		return false;
	value = node->text;
	return true;
}


void readEnvelope(std::string_view frame, Envelope& envelope)
{
	envelope.status = Envelope::Status::INVALID;
	envelope.messageId.clear();
	envelope.type.clear();
	envelope.hasForm = false;
	envelope.payloadOk = false;
	if (!envelope.document.parse(std::string(frame)) || envelope.document.root().kind != JsonKind::OBJECT)
		return;
	const JsonDocument& doc = envelope.document;
	const JsonNode& root = doc.root();
	if (const JsonNode* id = doc.member(root, "message_id"))
	{
		if (id->kind == JsonKind::STRING)
			envelope.messageId = id->text;
		else if (id->kind != JsonKind::NUL)
			return;
	}
	const JsonNode* type = doc.member(root, "type");
	if (type == nullptr || type->kind != JsonKind::STRING)
		return;
	envelope.type = type->text;
	envelope.status = Envelope::Status::VALID;
	const JsonNode* payload = doc.member(root, "payload");
	if (payload == nullptr)
		return;
	if (payload->kind == JsonKind::OBJECT)
		envelope.form = PayloadForm::OBJECT;
	else if (payload->kind == JsonKind::STRING)
	{
		std::size_t first = 0;
		while (first < payload->text.size() && isJsonSpace(payload->text[first]))
			++first;
		envelope.form = first < payload->text.size() && payload->text[first] == '{' ? PayloadForm::JSON_STRING
		                                                                            : PayloadForm::BASE64;
	}
	else
		return;
	envelope.hasForm = true;
	envelope.payloadOk = envelope.payload.decode(doc, *payload, envelope.form);
}


} // namespace Govpn
} // namespace Switchboard
