//
// IniFile.cpp
//
// The configuration file's syntax.
//


#include "config/IniFile.h"
#include "switchboard/util/Json.h"
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>


namespace Switchboard {
namespace Core {


namespace {


std::string_view trim(std::string_view s)
{
	const char* const blanks = " \t\r\v\f";
	std::size_t first = s.find_first_not_of(blanks);
	if (first == std::string_view::npos)
		return {};
	return s.substr(first, s.find_last_not_of(blanks) - first + 1);
}


std::string lower(std::string_view s)
{
	std::string out(s);
	for (char& c : out)
		c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	return out;
}


} // namespace


bool IniFile::read(const std::string& path, IniFile& out, std::vector<std::string>& errors)
{
	std::size_t before = errors.size();
	std::string prefix = path + ": cannot read the configuration file: ";
	std::error_code ec;
	std::filesystem::file_status status = std::filesystem::status(path, ec);
	if (!std::filesystem::exists(status))
	{
		errors.push_back(prefix + "no such file");
		return false;
	}
	if (!std::filesystem::is_regular_file(status))
	{
		errors.push_back(prefix + "not a regular file");
		return false;
	}
	std::ifstream in(path, std::ios::binary);
	if (!in)
	{
		errors.push_back(prefix + std::strerror(errno));
		return false;
	}
	parse(in, path, out, errors);
	if (in.bad())
		errors.push_back(prefix + "read error");
	return errors.size() == before;
}


void IniFile::parse(std::istream& in, const std::string& path, IniFile& out, std::vector<std::string>& errors)
{
	out = IniFile();
	out._path = path;
	std::string section;
	int number = 0;
	for (std::string text; std::getline(in, text);)
	{
		++number;
		std::string_view line = trim(text);
		if (line.empty() || line.front() == ';' || line.front() == '#')
			continue;
		if (line.front() == '[')
		{
			std::size_t close = line.find(']');
			std::string_view name = trim(line.substr(1, close == std::string_view::npos ? 0 : close - 1));
			if (close == std::string_view::npos || name.empty() || !trim(line.substr(close + 1)).empty())
			{
				errors.push_back(out.origin(number) + ": expected a section header [name], got " + Json::quote(line));
				continue;
			}
			section = lower(name);
			out._sections.push_back(Section{section, number});
			continue;
		}
		std::size_t eq = line.find('=');
		std::string_view name = trim(line.substr(0, eq));
		if (eq == std::string_view::npos || name.empty())
		{
			errors.push_back(out.origin(number) + ": expected key = value, [section] or a comment, got " +
			                 Json::quote(line));
			continue;
		}
		out._entries.push_back(Entry{section, lower(name), std::string(trim(line.substr(eq + 1))), number});
	}
}


} // namespace Core
} // namespace Switchboard
