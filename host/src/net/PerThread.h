//
// PerThread.h
//
// One object per thread for the thread's life, for the data plane's per-thread caches.
//


#ifndef Switchboard_Core_PerThread_INCLUDED
#define Switchboard_Core_PerThread_INCLUDED


namespace Switchboard {
namespace Core {


template <typename T>
T& perThread()
/// The calling thread's T, default-constructed on first use. On Windows it is never destroyed:
/// mingw-w64 frees a thread's thread_local storage before it runs the destructors of the objects
/// in it, which crashed threads ending at shutdown (under Wine). The callers are the event loops,
/// which live as long as the process.
{
#if defined(_WIN32)
	thread_local T* pObject = new T();
	return *pObject;
#else
	thread_local T object;
	return object;
#endif
}


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_PerThread_INCLUDED
