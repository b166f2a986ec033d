//
// PostgresSql.cpp
//
// The SQL text rules of the PostgreSQL backend: '?' placeholders to $n, splitting migration
// scripts, the few SQLite spellings translated, statements a plugin may not run.
//


#include "storage/PostgresSql.h"
#include <cstddef>
#include <string>


namespace Switchboard {
namespace Core {
namespace PostgresSql {


namespace {


const char* const CONTROL_DENIED =
    "transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE) is not allowed here: use "
    "Storage::transaction(); migrations already run in a transaction each";
const char* const SESSION_DENIED =
    "SET, RESET and DISCARD are not allowed: the PostgreSQL backend owns the session settings (search_path "
    "is the plugin's schema)";
const char* const ATTACH_DENIED = "ATTACH and DETACH are not allowed: a plugin's storage is its own database only";
const char* const INSERT_OR_DENIED =
    "INSERT OR ... and REPLACE are SQLite only: write INSERT ... ON CONFLICT DO NOTHING (or DO UPDATE SET ...), "
    "which SQLite and PostgreSQL both run";
const char* const PRAGMA_DENIED = "PRAGMA is SQLite only: the PostgreSQL backend has no per-connection tuning";


enum class Kind
{
	SPACE,
	COMMENT,
	WORD,
	QUOTED, // '...', E'...', "...", $tag$...$tag$
	PARAM,  // ? or ?NNN
	DOLLAR, // $NNN written by the plugin
	SEMICOLON,
	OTHER
};


struct Token
{
	Kind kind;
	std::size_t begin;
	std::size_t end;
};


bool isSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}


bool isDigit(char c)
{
	return c >= '0' && c <= '9';
}


bool isWordStart(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}


bool isWordChar(char c)
{
	return isWordStart(c) || isDigit(c) || c == '$';
}


std::size_t quotedEnd(std::string_view sql, std::size_t i, char quote, bool backslashes)
/// The end of a literal opened at i (the quote character); the doubled quote is an escaped one.
{
	std::size_t p = i + 1;
	while (p < sql.size())
	{
		if (backslashes && sql[p] == '\\')
		{
			p += 2;
			continue;
		}
		if (sql[p] == quote)
		{
			if (p + 1 < sql.size() && sql[p + 1] == quote)
			{
				p += 2;
				continue;
			}
			return p + 1;
		}
		++p;
	}
	return sql.size(); // unterminated: PostgreSQL reports it
}


std::size_t dollarQuoteEnd(std::string_view sql, std::size_t i)
/// The end of a dollar-quoted string opened at i, or 0 if there is no dollar quote at i.
{
	std::size_t p = i + 1;
	if (p < sql.size() && sql[p] != '$')
	{
		if (!isWordStart(sql[p]))
			return 0;
		while (p < sql.size() && (isWordStart(sql[p]) || isDigit(sql[p])))
			++p;
		if (p >= sql.size() || sql[p] != '$')
			return 0;
	}
	if (p >= sql.size())
		return 0;
	const std::string_view tag = sql.substr(i, p - i + 1);
	const std::size_t close = sql.find(tag, p + 1);
	return close == std::string_view::npos ? sql.size() : close + tag.size();
}


std::vector<Token> lex(std::string_view sql)
{
	std::vector<Token> tokens;
	std::size_t i = 0;
	while (i < sql.size())
	{
		const char c = sql[i];
		Token t{Kind::OTHER, i, i + 1};
		if (isSpace(c))
		{
			t.kind = Kind::SPACE;
			while (t.end < sql.size() && isSpace(sql[t.end]))
				++t.end;
		}
		else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-')
		{
			t.kind = Kind::COMMENT;
			const std::size_t eol = sql.find('\n', i);
			t.end = eol == std::string_view::npos ? sql.size() : eol;
		}
		else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*')
		{
			// PostgreSQL's block comments nest.
			t.kind = Kind::COMMENT;
			int depth = 0;
			std::size_t p = i;
			while (p < sql.size())
			{
				if (sql[p] == '/' && p + 1 < sql.size() && sql[p + 1] == '*')
				{
					++depth;
					p += 2;
				}
				else if (sql[p] == '*' && p + 1 < sql.size() && sql[p + 1] == '/')
				{
					p += 2;
					if (--depth == 0)
						break;
				}
				else
					++p;
			}
			t.end = p;
		}
		else if (c == '\'')
		{
			t.kind = Kind::QUOTED;
			t.end = quotedEnd(sql, i, '\'', false);
		}
		else if (c == '"')
		{
			t.kind = Kind::QUOTED;
			t.end = quotedEnd(sql, i, '"', false);
		}
		else if (isWordStart(c))
		{
			t.kind = Kind::WORD;
			while (t.end < sql.size() && isWordChar(sql[t.end]))
				++t.end;
			// E'...' is an escape string: a backslash escapes the next character, a quote too.
			if (t.end - t.begin == 1 && (c == 'E' || c == 'e') && t.end < sql.size() && sql[t.end] == '\'')
			{
				t.kind = Kind::QUOTED;
				t.end = quotedEnd(sql, t.end, '\'', true);
			}
		}
		else if (isDigit(c))
		{
			while (t.end < sql.size() && (isWordChar(sql[t.end]) || sql[t.end] == '.'))
				++t.end;
		}
		else if (c == '$')
		{
			if (i + 1 < sql.size() && isDigit(sql[i + 1]))
			{
				t.kind = Kind::DOLLAR;
				while (t.end < sql.size() && isDigit(sql[t.end]))
					++t.end;
			}
			else if (std::size_t end = dollarQuoteEnd(sql, i))
			{
				t.kind = Kind::QUOTED;
				t.end = end;
			}
		}
		else if (c == '?')
		{
			t.kind = Kind::PARAM;
			while (t.end < sql.size() && isDigit(sql[t.end]))
				++t.end;
		}
		else if (c == ';')
			t.kind = Kind::SEMICOLON;
		tokens.push_back(t);
		i = t.end;
	}
	return tokens;
}


bool significant(const Token& t)
{
	return t.kind != Kind::SPACE && t.kind != Kind::COMMENT;
}


std::string upper(std::string_view text)
{
	std::string out(text);
	for (char& c : out)
		c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
	return out;
}


std::string wordAt(std::string_view sql, const std::vector<Token>& tokens, const std::vector<std::size_t>& order,
                   std::size_t k)
/// The upper-cased text of the k-th significant token if it is a word, else "".
{
	if (k >= order.size())
		return "";
	const Token& t = tokens[order[k]];
	return t.kind == Kind::WORD ? upper(sql.substr(t.begin, t.end - t.begin)) : std::string();
}


bool otherIs(std::string_view sql, const std::vector<Token>& tokens, const std::vector<std::size_t>& order,
             std::size_t k, char c)
{
	if (k >= order.size())
		return false;
	const Token& t = tokens[order[k]];
	return t.kind == Kind::OTHER && t.end - t.begin == 1 && sql[t.begin] == c;
}


std::string translateTokens(std::string_view sql, const std::vector<Token>& tokens)
{
	std::vector<std::size_t> order; // indexes of the significant tokens
	for (std::size_t i = 0; i < tokens.size(); ++i)
	{
		if (significant(tokens[i]))
			order.push_back(i);
	}
	const std::string first = wordAt(sql, tokens, order, 0);
	const bool ddl = first == "CREATE" || first == "ALTER";

	std::vector<std::string> replaced(tokens.size());
	std::vector<bool> isReplaced(tokens.size(), false);
	auto replace = [&](std::size_t k, std::string text) {
		replaced[order[k]] = std::move(text);
		isReplaced[order[k]] = true;
	};
	for (std::size_t k = 0; k < order.size(); ++k)
	{
		const std::string word = wordAt(sql, tokens, order, k);
		if (word.empty() || (k > 0 && otherIs(sql, tokens, order, k - 1, '.')) ||
		    otherIs(sql, tokens, order, k + 1, '.') || otherIs(sql, tokens, order, k + 1, '('))
			continue;
		const bool cast = (k > 0 && wordAt(sql, tokens, order, k - 1) == "AS") ||
		                  (k > 1 && otherIs(sql, tokens, order, k - 1, ':') && otherIs(sql, tokens, order, k - 2, ':'));
		if (!ddl && !cast)
			continue;
		if (word == "INTEGER" && ddl && wordAt(sql, tokens, order, k + 1) == "PRIMARY" &&
		    wordAt(sql, tokens, order, k + 2) == "KEY")
		{
			// SQLite's rowid alias: a value is assigned when none is given, as a sequence does.
			replace(k, "BIGSERIAL");
			if (wordAt(sql, tokens, order, k + 3) == "AUTOINCREMENT")
				replace(k + 3, "");
		}
		else if (word == "INTEGER" || word == "INT")
			replace(k, "BIGINT");
		else if (word == "REAL" || (word == "DOUBLE" && wordAt(sql, tokens, order, k + 1) != "PRECISION"))
			replace(k, "DOUBLE PRECISION");
		else if (word == "BLOB")
			replace(k, "BYTEA");
	}
	std::string out;
	out.reserve(sql.size() + 16);
	for (std::size_t i = 0; i < tokens.size(); ++i)
	{
		if (isReplaced[i])
			out += replaced[i];
		else
			out.append(sql.substr(tokens[i].begin, tokens[i].end - tokens[i].begin));
	}
	return out;
}


} // namespace


std::string translateTypes(std::string_view statement)
{
	return translateTokens(statement, lex(statement));
}


std::string refusal(std::string_view statement)
{
	const std::vector<Token> tokens = lex(statement);
	std::vector<std::size_t> order;
	for (std::size_t i = 0; i < tokens.size(); ++i)
	{
		if (significant(tokens[i]))
			order.push_back(i);
	}
	const std::string first = wordAt(statement, tokens, order, 0);
	const std::string second = wordAt(statement, tokens, order, 1);
	if (first == "BEGIN" || first == "START" || first == "COMMIT" || first == "END" || first == "ROLLBACK" ||
	    first == "ABORT" || first == "SAVEPOINT" || first == "RELEASE" ||
	    (first == "PREPARE" && second == "TRANSACTION"))
		return CONTROL_DENIED;
	if (first == "SET" || first == "RESET" || first == "DISCARD")
		return SESSION_DENIED;
	if (first == "ATTACH" || first == "DETACH")
		return ATTACH_DENIED;
	if ((first == "INSERT" && second == "OR") || first == "REPLACE")
		return INSERT_OR_DENIED;
	if (first == "PRAGMA")
		return PRAGMA_DENIED;
	return "";
}


bool prepare(std::string_view sql, Prepared& out, std::string& error)
{
	out = Prepared();
	if (sql.find('\0') != std::string_view::npos)
	{
		error = "SQL text contains a NUL byte (pass binary data as a bound parameter)";
		return false;
	}
	const std::vector<Token> tokens = lex(sql);
	std::size_t end = sql.size();
	bool any = false;
	for (std::size_t i = 0; i < tokens.size(); ++i)
	{
		if (tokens[i].kind != Kind::SEMICOLON)
		{
			any = any || significant(tokens[i]);
			continue;
		}
		end = tokens[i].begin;
		for (std::size_t j = i + 1; j < tokens.size(); ++j)
		{
			if (significant(tokens[j]) && tokens[j].kind != Kind::SEMICOLON)
			{
				error = "execute() runs exactly one statement; found more after it: " +
				        excerpt(sql.substr(tokens[j].begin));
				return false;
			}
		}
		break;
	}
	if (!any)
	{
		error = "empty SQL statement";
		return false;
	}
	const std::string_view statement = sql.substr(0, end);
	error = refusal(statement);
	if (!error.empty())
		return false;

	const std::string translated = translateTypes(statement);
	const std::vector<Token> rewritten = lex(translated);
	out.text.reserve(translated.size() + 8);
	int highest = 0;
	for (const Token& t : rewritten)
	{
		const std::string_view text = std::string_view(translated).substr(t.begin, t.end - t.begin);
		if (t.kind == Kind::PARAM)
		{
			int index = highest + 1;
			if (text.size() > 1)
			{
				index = 0;
				for (char d : text.substr(1))
				{
					index = index * 10 + (d - '0');
					if (index > 65535)
					{
						error = "parameter index " + std::string(text) + " is out of range";
						return false;
					}
				}
				if (index == 0)
				{
					error = "parameter index ?0 is out of range";
					return false;
				}
			}
			highest = index > highest ? index : highest;
			out.text += "$" + std::to_string(index);
			continue;
		}
		if (t.kind == Kind::DOLLAR)
			out.ownDollars = true;
		out.text.append(text);
	}
	out.placeholders = highest;
	return true;
}


std::vector<std::string> split(std::string_view script)
{
	std::vector<std::string> statements;
	const std::vector<Token> tokens = lex(script);
	std::size_t begin = 0;
	bool any = false;
	auto flush = [&](std::size_t end) {
		if (any)
			statements.push_back(translateTypes(script.substr(begin, end - begin)));
		any = false;
	};
	for (const Token& t : tokens)
	{
		if (t.kind == Kind::SEMICOLON)
		{
			flush(t.begin);
			begin = t.end;
		}
		else
			any = any || significant(t);
	}
	flush(script.size());
	return statements;
}


std::string quoteIdentifier(std::string_view name)
{
	std::string out = "\"";
	for (char c : name)
	{
		out += c;
		if (c == '"')
			out += '"';
	}
	return out + "\"";
}


std::string excerpt(std::string_view sql)
{
	std::string text;
	bool space = false;
	for (char c : sql)
	{
		if (isSpace(c))
		{
			space = !text.empty();
			continue;
		}
		if (text.size() >= 80)
			return text + "...";
		if (space)
			text += ' ';
		space = false;
		text += c;
	}
	return text;
}


} // namespace PostgresSql
} // namespace Core
} // namespace Switchboard
