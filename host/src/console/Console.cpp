//
// Console.cpp
//


#include "console/Console.h"
#include "switchboard/util/Json.h"
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>


namespace Switchboard {
namespace Core {
namespace Console {


namespace {


std::string trim(std::string_view text)
{
	std::size_t b = 0, e = text.size();
	while (b < e && std::isspace(static_cast<unsigned char>(text[b])))
		++b;
	while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1])))
		--e;
	return std::string(text.substr(b, e - b));
}


std::vector<std::string> words(std::string_view name)
{
	std::vector<std::string> out(1);
	for (char c : name)
	{
		if (c == '.' || c == '_')
			out.emplace_back();
		else
			out.back().push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
	}
	return out;
}


bool isNumberText(const std::string& v)
/// A finite number as strtod reads it (no NaN, infinity or hexadecimal form).
{
	if (v.empty() || v.find_first_of("nNiIxX") != std::string::npos)
		return false;
	char* end = nullptr;
	std::strtod(v.c_str(), &end);
	return end != nullptr && *end == '\0';
}


void appendValue(std::string& out, const std::string& value)
{
	if (isNumberText(value))
		out += value;
	else
		Json::appendString(out, value);
}


std::string unescapeLabel(std::string_view text)
{
	std::string out;
	for (std::size_t i = 0; i < text.size(); ++i)
	{
		if (text[i] == '\\' && i + 1 < text.size())
		{
			++i;
			out.push_back(text[i] == 'n' ? '\n' : text[i]);
		}
		else
			out.push_back(text[i]);
	}
	return out;
}


bool parseLabels(std::string_view text, std::string& json)
/// text is what lies between '{' and '}'; appends a JSON object to json.
{
	json += "{";
	bool first = true;
	std::size_t i = 0;
	while (i < text.size())
	{
		while (i < text.size() && (text[i] == ',' || text[i] == ' '))
			++i;
		if (i >= text.size())
			break;
		std::size_t eq = text.find('=', i);
		if (eq == std::string_view::npos || eq + 1 >= text.size() || text[eq + 1] != '"')
			return false;
		std::string name = trim(text.substr(i, eq - i));
		std::size_t j = eq + 2;
		std::size_t start = j;
		while (j < text.size() && text[j] != '"')
			j += text[j] == '\\' ? 2 : 1;
		if (j >= text.size())
			return false;
		if (!first)
			json += ",";
		first = false;
		Json::appendString(json, name);
		json += ":";
		Json::appendString(json, unescapeLabel(text.substr(start, j - start)));
		i = j + 1;
	}
	json += "}";
	return true;
}


struct Family
{
	std::string type = "untyped";
	std::string help;
	std::string samples;
};


} // namespace


bool isSecretKey(std::string_view name)
{
	std::vector<std::string> w = words(name);
	const std::string& last = w.back();
	if (last == "secret" || last == "password" || last == "passwd" || last == "token" || last == "tokens" ||
	    last == "credential" || last == "credentials")
		return true;
	if (last == "key")
	{
		const std::string before = w.size() > 1 ? w[w.size() - 2] : std::string();
		return before != "tls" && before != "public";
	}
	return false;
}


std::string maskSecrets(const std::string& ini)
{
	std::istringstream in(ini);
	std::string out, line;
	bool environment = false;
	while (std::getline(in, line))
	{
		std::string t = trim(line);
		if (!t.empty() && t.front() == '[')
			environment = t == "[environment]";
		std::size_t eq = line.find('=');
		if (!environment && !t.empty() && t.front() != ';' && t.front() != '#' && t.front() != '[' &&
		    eq != std::string::npos)
		{
			std::string key = trim(std::string_view(line).substr(0, eq));
			std::string value = trim(std::string_view(line).substr(eq + 1));
			if (!value.empty() && isSecretKey(key))
				line = line.substr(0, eq) + "= " + MASK;
		}
		out += line;
		out += "\n";
	}
	return out;
}


std::string metricsJson(const std::string& prometheusText)
{
	std::vector<std::string> order;
	std::map<std::string, Family> families;
	auto family = [&](const std::string& name) -> Family& {
		auto it = families.find(name);
		if (it == families.end())
		{
			order.push_back(name);
			it = families.emplace(name, Family()).first;
		}
		return it->second;
	};
	std::istringstream in(prometheusText);
	std::string line;
	while (std::getline(in, line))
	{
		if (line.empty())
			continue;
		if (line[0] == '#')
		{
			std::istringstream parts(line);
			std::string hash, kind, name;
			parts >> hash >> kind >> name;
			if (name.empty() || (kind != "HELP" && kind != "TYPE"))
				continue;
			std::string rest;
			std::getline(parts, rest);
			if (!rest.empty() && rest.front() == ' ')
				rest.erase(0, 1);
			if (kind == "TYPE")
				family(name).type = trim(rest);
			else
				family(name).help = unescapeLabel(rest);
			continue;
		}
		std::size_t nameEnd = line.find_first_of("{ ");
		if (nameEnd == std::string::npos || nameEnd == 0)
			continue;
		std::string name = line.substr(0, nameEnd);
		std::string labels = "{}";
		std::size_t valueStart = nameEnd;
		if (line[nameEnd] == '{')
		{
			// The closing brace is the last one: label values may hold '}' only inside quotes,
			// and the value after it never does.
			std::size_t close = line.rfind('}');
			if (close == std::string::npos || close < nameEnd)
				continue;
			labels.clear();
			if (!parseLabels(std::string_view(line).substr(nameEnd + 1, close - nameEnd - 1), labels))
				continue;
			valueStart = close + 1;
		}
		std::istringstream rest(line.substr(valueStart));
		std::string value;
		rest >> value;
		if (!isNumberText(value) && value != "NaN" && value != "+Inf" && value != "-Inf")
			continue;
		std::string owner = name;
		if (!families.count(owner))
		{
			for (const char* suffix : {"_bucket", "_sum", "_count"})
			{
				std::string s(suffix);
				if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0 &&
				    families.count(name.substr(0, name.size() - s.size())))
				{
					owner = name.substr(0, name.size() - s.size());
					break;
				}
			}
		}
		Family& f = family(owner);
		if (!f.samples.empty())
			f.samples += ",";
		f.samples += "{";
		if (owner != name)
		{
			f.samples += "\"name\":";
			Json::appendString(f.samples, name);
			f.samples += ",";
		}
		f.samples += "\"labels\":" + labels + ",\"value\":";
		appendValue(f.samples, value);
		f.samples += "}";
	}
	std::string out = "{";
	bool first = true;
	for (const std::string& name : order)
	{
		const Family& f = families[name];
		if (!first)
			out += ",";
		first = false;
		Json::appendString(out, name);
		out += ":{\"type\":";
		Json::appendString(out, f.type);
		out += ",\"help\":";
		Json::appendString(out, f.help);
		out += ",\"samples\":[" + f.samples + "]}";
	}
	return out + "}";
}


void Assets::load(const std::string& consoleDir, const std::string& chartJsPath)
{
	struct Spec
	{
		const char* url;
		std::string source;
		const char* type;
	};
	const Spec specs[] = {
	    {"/console", consoleDir + "/index.html", "text/html; charset=utf-8"},
	    {"/console/console.css", consoleDir + "/console.css", "text/css; charset=utf-8"},
	    {"/console/console.js", consoleDir + "/console.js", "text/javascript; charset=utf-8"},
	    {"/console/vendor/chart.js", chartJsPath, "text/javascript; charset=utf-8"},
	};
	_files.clear();
	for (const Spec& spec : specs)
	{
		File file;
		file.contentType = spec.type;
		file.source = spec.source;
		std::ifstream stream(spec.source, std::ios::binary);
		if (stream)
		{
			std::ostringstream body;
			body << stream.rdbuf();
			if (stream.good() || stream.eof())
			{
				file.body = body.str();
				file.loaded = true;
			}
		}
		_files[spec.url] = std::move(file);
	}
}


bool Assets::isConsolePath(const std::string& path)
{
	return path == "/" || path == "/console" || path == "/console/" || path.rfind("/console/", 0) == 0;
}


bool Assets::find(const std::string& path, std::string& contentType, std::string& body, std::string& missing) const
{
	missing.clear();
	std::string key = path == "/" || path == "/console/" ? "/console" : path;
	auto it = _files.find(key);
	if (it == _files.end())
		return false;
	if (!it->second.loaded)
	{
		missing = key == "/console/vendor/chart.js"
		              ? "Chart.js is not installed: " + it->second.source +
		                    " was not found at start-up (apt-get install libjs-chart.js, then restart)\n"
		              : "console file " + it->second.source + " was not found at start-up\n";
		return false;
	}
	contentType = it->second.contentType;
	body = it->second.body;
	return true;
}


} // namespace Console
} // namespace Core
} // namespace Switchboard
