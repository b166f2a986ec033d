//
// TempDir.cpp
//
// A private temporary directory under /tmp, removed with its contents when the object dies.
//


#include "TempDir.h"
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <ftw.h>
#include <iostream>
#include <stdexcept>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <vector>


namespace Switchboard {
namespace Test {


namespace {


std::string errnoText(int error)
{
	return std::system_category().message(error);
}


void checkRelative(const std::string& relativePath)
{
	if (relativePath.empty())
		throw std::invalid_argument("TempDir: empty relative path");
	if (relativePath.front() == '/')
		throw std::invalid_argument("TempDir: absolute path not allowed: " + relativePath);
	std::size_t start = 0;
	while (start <= relativePath.size())
	{
		std::size_t end = relativePath.find('/', start);
		if (end == std::string::npos)
			end = relativePath.size();
		if (relativePath.compare(start, end - start, "..") == 0 && end - start == 2)
			throw std::invalid_argument("TempDir: '..' not allowed in " + relativePath);
		start = end + 1;
	}
}


void makeDirectories(const std::string& absolutePath, std::size_t fromOffset)
{
	std::size_t position = fromOffset;
	while (position != std::string::npos)
	{
		position = absolutePath.find('/', position + 1);
		const std::string prefix = absolutePath.substr(0, position);
		if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
			throw std::runtime_error("TempDir: mkdir " + prefix + ": " + errnoText(errno));
	}
}


int removeEntry(const char* path, const struct stat*, int, struct FTW*)
{
	return ::remove(path) == 0 ? 0 : -1;
}


} // namespace


TempDir::TempDir(const std::string& prefix):
    _keep(false)
{
	if (prefix.empty() || prefix.find('/') != std::string::npos)
		throw std::invalid_argument("TempDir: prefix must be a non-empty name without '/': " + prefix);
	std::string templ = "/tmp/" + prefix + "-XXXXXX";
	std::vector<char> buffer(templ.begin(), templ.end());
	buffer.push_back('\0');
	if (::mkdtemp(buffer.data()) == nullptr)
		throw std::runtime_error("TempDir: mkdtemp " + templ + ": " + errnoText(errno));
	_path = buffer.data();
}


TempDir::~TempDir()
{
	if (_keep || keepRequested())
	{
		std::cerr << "TempDir: keeping " << _path << std::endl;
		return;
	}
	if (!removeRecursively(_path))
		std::cerr << "TempDir: could not remove " << _path << ": " << errnoText(errno) << std::endl;
}


std::string TempDir::filePath(const std::string& relativePath) const
{
	checkRelative(relativePath);
	return _path + "/" + relativePath;
}


std::string TempDir::writeFile(const std::string& relativePath, const std::string& text, int mode)
{
	const std::string target = filePath(relativePath);
	const std::size_t slash = target.rfind('/');
	if (slash > _path.size())
		makeDirectories(target.substr(0, slash), _path.size());
	const int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, static_cast<mode_t>(mode));
	if (fd < 0)
		throw std::runtime_error("TempDir: cannot write " + target + ": " + errnoText(errno));
	std::size_t written = 0;
	while (written < text.size())
	{
		const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
		{
			const int error = errno;
			::close(fd);
			throw std::runtime_error("TempDir: write " + target + ": " + errnoText(error));
		}
		written += static_cast<std::size_t>(n);
	}
	::close(fd);
	return target;
}


std::string TempDir::readFile(const std::string& relativePath) const
{
	const std::string source = filePath(relativePath);
	const int fd = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		throw std::runtime_error("TempDir: cannot read " + source + ": " + errnoText(errno));
	std::string text;
	char chunk[16384];
	for (;;)
	{
		const ssize_t n = ::read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
		{
			const int error = errno;
			::close(fd);
			throw std::runtime_error("TempDir: read " + source + ": " + errnoText(error));
		}
		if (n == 0)
			break;
		text.append(chunk, static_cast<std::size_t>(n));
	}
	::close(fd);
	return text;
}


bool TempDir::exists(const std::string& relativePath) const
{
	struct stat info;
	return ::lstat(filePath(relativePath).c_str(), &info) == 0;
}


std::string TempDir::makeDirectory(const std::string& relativePath)
{
	const std::string target = filePath(relativePath);
	makeDirectories(target, _path.size());
	return target;
}


bool TempDir::keepRequested()
{
	const char* value = std::getenv("SWITCHBOARD_KEEP_TEST_DIRS");
	return value != nullptr && value[0] != '\0' && std::string(value) != "0";
}


bool TempDir::removeRecursively(const std::string& path)
{
	struct stat info;
	if (::lstat(path.c_str(), &info) != 0)
		return errno == ENOENT;
	// FTW_DEPTH visits children before their directory; FTW_PHYS removes links, not their targets.
	return ::nftw(path.c_str(), removeEntry, 16, FTW_DEPTH | FTW_PHYS) == 0;
}


} // namespace Test
} // namespace Switchboard
