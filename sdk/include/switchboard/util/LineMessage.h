//
// util/LineMessage.h
//
// Switchboard SDK utility (header-only, not part of the plugin ABI): reading the one-line
// messages plugins send each other over ClusterChannel ("<verb> <word> ...\n<free text>"), as
// GoVPN and Together do.
//


#ifndef Switchboard_Util_LineMessage_INCLUDED
#define Switchboard_Util_LineMessage_INCLUDED


#include <charconv>
#include <string_view>
#include <system_error>
#include <vector>


namespace Switchboard {


struct LineMessage
/// A message split: the words of its first line (split at every space, so two spaces make an
/// empty word) and everything after the first newline. Both view the message's bytes.
{
	std::vector<std::string_view> words;
	std::string_view text;
};


inline LineMessage splitLineMessage(std::string_view message)
{
	LineMessage out;
	const std::size_t newline = message.find('\n');
	std::string_view head = message.substr(0, newline);
	if (newline != std::string_view::npos)
		out.text = message.substr(newline + 1);
	while (!head.empty())
	{
		const std::size_t space = head.find(' ');
		out.words.push_back(head.substr(0, space));
		head = space == std::string_view::npos ? std::string_view() : head.substr(space + 1);
	}
	return out;
}


template <typename Integer>
bool readWholeInteger(std::string_view text, Integer& value) noexcept
/// True if text is exactly a decimal integer that fits Integer (a '-' only for signed types, no
/// '+', no spaces); value is then set.
{
	const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
	return result.ec == std::errc() && result.ptr == text.data() + text.size() && !text.empty();
}


} // namespace Switchboard


#endif // Switchboard_Util_LineMessage_INCLUDED
