//
// OutputQueue.h
//
// The bytes a WebSocket connection still has to write: data frames in order, control frames
// (pings, pongs) slipped in at the next frame boundary.
//


#ifndef Switchboard_Core_OutputQueue_INCLUDED
#define Switchboard_Core_OutputQueue_INCLUDED


#include <cstddef>
#include <cstdint>
#include "net/SocketIo.h"
#include <cstring>
#include <memory>
#include <string>
#include <vector>


namespace Switchboard {
namespace Core {


class OutputQueue
/// Two queues written as one stream. Data frames (and close frames) keep their order in chunks
/// of whole frames; control frames go to a separate buffer that is written before the next chunk
/// that has not started, so a pong overtakes queued data without splitting a frame. Every
/// operation is O(1) amortised: appending never inserts in the middle, and written chunks are
/// skipped by an index and compacted in bulk, never erased from the front one by one.
///
/// Invariant that keeps frames whole: the first chunk and the control buffer are never both
/// partly written (the control buffer is written whole before any later chunk starts).
///
/// Not thread-safe: owned by one connection on one loop.
{
public:
	void appendFrame(const char* header, std::size_t headerLength, const char* payload, std::size_t length,
	                 bool ownChunk = false);
	/// Appends a whole data frame. ownChunk starts a new chunk (a close frame: nothing queued
	/// later may be written before it).

	void appendShared(std::shared_ptr<const std::string> frame);
	/// Appends an encoded frame shared with other recipients, without copying it.

	void markMessage() { _messageEnds.push_back(_writtenData + _dataBytes); }
	/// Counts the data frame just appended as a message until it is fully written. Only a
	/// connection with a message limit calls it; the others keep nothing per message.

	std::size_t messageCount() const { return _messageEnds.size() - _messageHead; }
	/// Marked messages not yet fully written.

	void appendControl(const char* header, std::size_t headerLength, const char* payload, std::size_t length);
	/// Appends a control frame to be written at the next frame boundary.

	std::size_t size() const { return _dataBytes + (_control.size() - _controlOffset); }
	/// Bytes not yet written, both queues.

	bool empty() const { return size() == 0; }

	int gather(iovec* iov, int maxCount) const;
	/// Fills iov with the unwritten bytes in wire order (at most maxCount entries); returns the count.

	void consume(std::size_t written);
	/// Marks the first written bytes of gather()'s order as sent.

	void discardUnstarted();
	/// Drops every frame that has not started to be written (keeps a partly written one, so the
	/// stream stays well-formed).

	void clear();
	/// Drops everything and gives the memory back.

	std::size_t chunkCount() const { return _chunks.size() - _head; }
	/// Data chunks not yet fully written (tests and diagnostics).

private:
	class Buffer
	/// Bytes of one or more whole frames: a plain array, so appending is a bounds check and a copy.
	{
	public:
		std::size_t size() const { return _size; }
		const char* data() const { return _data.get(); }

		void append(const char* bytes, std::size_t length)
		{
			if (length > _capacity - _size)
				grow(_size + length);
			if (length > 0)
				std::memcpy(_data.get() + _size, bytes, length);
			_size += length;
		}

	private:
		friend class OutputQueue; // moves storage in and out of the spares

		void grow(std::size_t needed);

		std::unique_ptr<char[]> _data;
		std::size_t _size = 0;
		std::size_t _capacity = 0;
	};

	struct Chunk
	{
		std::shared_ptr<const std::string> shared; ///< set for frames shared between recipients
		Buffer owned;                              ///< otherwise bytes of one or more whole frames
		std::size_t offset = 0;                    ///< bytes already written

		std::size_t size() const { return shared ? shared->size() : owned.size(); }
		const char* data() const { return shared ? shared->data() : owned.data(); }
	};

	static Buffer takeSpare(std::size_t atLeast);
	/// An empty buffer with room for atLeast bytes: one this thread's queues wrote out, if it fits.
	static void keepSpare(Buffer& buffer);
	/// Takes a written chunk's buffer for takeSpare(), if it is small and few are kept; else frees it.

	void popChunk();
	std::size_t consumeHeadChunk(std::size_t written);
	/// Takes up to written bytes of the first unwritten chunk; returns how many.
	void releaseIfEmpty();
	void dropWrittenMessages();

	std::vector<Chunk> _chunks;
	std::size_t _head = 0;      ///< first chunk not fully written
	std::size_t _dataBytes = 0; ///< unwritten bytes in _chunks
	std::string _control;       ///< whole control frames, written from _controlOffset
	std::size_t _controlOffset = 0;
	bool _sealed = false;                    ///< the last chunk must not take more frames (a close frame's own chunk)
	std::uint64_t _writtenData = 0;          ///< data bytes (not control) written since the start
	std::vector<std::uint64_t> _messageEnds; ///< _writtenData at which each marked message is written
	std::size_t _messageHead = 0;            ///< first entry of _messageEnds not yet written
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_OutputQueue_INCLUDED
