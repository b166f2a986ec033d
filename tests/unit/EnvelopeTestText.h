//
// EnvelopeTestText.h
//
// Readable text for the PeerJS envelope tests' assertion messages, shared by their runners.
//


#ifndef Switchboard_Test_EnvelopeTestText_INCLUDED
#define Switchboard_Test_EnvelopeTestText_INCLUDED


#include "Envelope.h"
#include <cstdio>
#include <string>
#include <string_view>


namespace Switchboard {
namespace Test {


inline std::string printable(std::string_view text, std::size_t limit = std::string_view::npos)
/// Bytes outside printable ASCII as \xNN, so a failing comparison stays readable; past limit
/// bytes only the length is told.
{
	std::string out;
	for (const char ch : text.substr(0, limit))
	{
		const auto c = static_cast<unsigned char>(ch);
		if (c >= 0x20 && c < 0x7F)
			out += ch;
		else
		{
			char buffer[8];
			std::snprintf(buffer, sizeof(buffer), "\\x%02X", c);
			out += buffer;
		}
	}
	if (text.size() > limit)
		out += "...(" + std::to_string(text.size()) + " bytes)";
	return out;
}


inline const char* statusName(PeerJs::EnvelopeStatus status)
{
	switch (status)
	{
		case PeerJs::EnvelopeStatus::OK:
			return "OK";
		case PeerJs::EnvelopeStatus::NOT_JSON:
			return "NOT_JSON";
		case PeerJs::EnvelopeStatus::NOT_OBJECT:
			return "NOT_OBJECT";
	}
	return "?";
}


} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_EnvelopeTestText_INCLUDED
