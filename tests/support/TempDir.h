//
// TempDir.h
//
// A private temporary directory under /tmp, removed with its contents when the object dies.
//


#ifndef Switchboard_Test_TempDir_INCLUDED
#define Switchboard_Test_TempDir_INCLUDED


#include <string>


namespace Switchboard {
namespace Test {


class TempDir
/// Creates /tmp/<prefix>-XXXXXX with mkdtemp() (mode 0700) and removes it recursively in the
/// destructor, without following symbolic links. If the environment variable
/// SWITCHBOARD_KEEP_TEST_DIRS is set to anything but "" or "0", or keep() was called, the
/// directory stays and its path is printed to stderr, for a look at logs and data after a
/// failed test.
///
/// Relative paths given to the file helpers must stay inside the directory: absolute paths
/// and ".." components are refused with std::invalid_argument. Not thread-safe; not copyable.
{
public:
	explicit TempDir(const std::string& prefix = "switchboard-test");
	/// Throws std::runtime_error if the directory cannot be created.

	~TempDir();

	TempDir(const TempDir&) = delete;
	TempDir& operator=(const TempDir&) = delete;

	const std::string& path() const { return _path; }
	/// Absolute path of the directory, without a trailing slash.

	std::string filePath(const std::string& relativePath) const;
	/// path() + "/" + relativePath, after checking relativePath.

	std::string writeFile(const std::string& relativePath, const std::string& text, int mode = 0644);
	/// Writes (replaces) a file, creating missing parent directories; returns its absolute
	/// path. mode applies to a newly created file (e.g. 0755 for a script).

	std::string readFile(const std::string& relativePath) const;
	/// The whole file; throws std::runtime_error if it cannot be read.

	bool exists(const std::string& relativePath) const;
	/// True if the path exists (lstat, so a dangling symbolic link counts).

	std::string makeDirectory(const std::string& relativePath);
	/// Creates the directory and its missing parents (mode 0755); returns its absolute path.

	void keep() { _keep = true; }
	/// Leave the directory in place at destruction.

	static bool keepRequested();
	/// True if SWITCHBOARD_KEEP_TEST_DIRS asks to keep test directories.

	static bool removeRecursively(const std::string& path);
	/// Removes a file or directory tree without following symbolic links; true on success.

private:
	std::string _path;
	bool _keep;
};


} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_TempDir_INCLUDED
