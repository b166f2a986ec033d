//
// IniFile.h
//
// The configuration file's syntax: sections, key = value lines and comments, read once, with the
// line number of every section and key so errors can point at them.
//


#ifndef Switchboard_Core_IniFile_INCLUDED
#define Switchboard_Core_IniFile_INCLUDED


#include <istream>
#include <string>
#include <vector>


namespace Switchboard {
namespace Core {


class IniFile
/// The accepted syntax, line by line (docs/configuration.md, "File format"):
///
///   - blank lines, and lines whose first non-blank character is ';' or '#' (comments);
///   - "[section]", blanks allowed around the name and after the ']';
///   - "key = value": the key is everything before the first '=', the value everything after
///     it (an empty value is the empty string; there are no trailing comments).
///
/// Section and key names are stored lower-case, names and values trimmed of blanks. Any other
/// line is malformed and reported as "<path>:<line>: <problem>". Nothing is expanded or
/// interpreted; duplicates are kept in file order (the caller lets the later one win).
///
/// A plain value object: not synchronised, safe to read from several threads once built.
{
public:
	struct Section
	{
		std::string name; ///< lower-case, e.g. "plugin.echo"
		int line = 0;     ///< 1-based
	};

	struct Entry
	{
		std::string section; ///< lower-case; "" for a key above the first section
		std::string name;    ///< lower-case key as written, e.g. "greeting"
		std::string value;   ///< trimmed
		int line = 0;        ///< 1-based

		std::string fullKey() const { return section.empty() ? name : section + "." + name; }
	};

	static bool read(const std::string& path, IniFile& out, std::vector<std::string>& errors);
	/// Reads the file at path. A file that cannot be read is one error "<path>: cannot read the
	/// configuration file: <reason>"; malformed lines are one error each. Returns errors.empty()
	/// after the call (errors is appended to).

	static void parse(std::istream& in, const std::string& path, IniFile& out, std::vector<std::string>& errors);
	/// Parses in as the contents of path (used only in messages), appending one error per
	/// malformed line.

	const std::vector<Section>& sections() const { return _sections; }
	/// Every section header in file order, repeated headers included.

	const std::vector<Entry>& entries() const { return _entries; }
	/// Every key line in file order.

	std::string origin(int line) const { return _path + ":" + std::to_string(line); }
	/// "<path>:<line>", how messages name a place in this file.

private:
	std::string _path;
	std::vector<Section> _sections;
	std::vector<Entry> _entries;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_IniFile_INCLUDED
