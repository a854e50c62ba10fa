// The green C++ API in one include: gevent's programming model for C++
// programs, on libgreen's hub (with or without the preload).
//
//   green/green.h      Thread, spawn(fn, stack_size), sleep_for, wait_readable/writable,
//   live_threads green/core.hpp     Error, GreenletExit, TimeoutError, Duration green/greenlet.hpp
//   spawn, spawn_later, Greenlet<T>, joinall, killall, sleep, yield, current green/timeout.hpp
//   Timeout, with_timeout green/event.hpp    Event, AsyncResult<T> green/semaphore.hpp Semaphore,
//   BoundedSemaphore, RLock green/queue.hpp    Queue, LifoQueue, PriorityQueue, JoinableQueue,
//   Channel green/pool.hpp     Group, Pool
//   green/socket.hpp   Address, Socket, resolve, create_connection
//   green/server.hpp   StreamServer, DatagramServer
//   green/http.hpp     http::Server, http::get (link green_http)
#pragma once
#include "green/core.hpp"
#include "green/event.hpp"
#include "green/green.h"
#include "green/greenlet.hpp"
#include "green/http.hpp"
#include "green/pool.hpp"
#include "green/queue.hpp"
#include "green/semaphore.hpp"
#include "green/server.hpp"
#include "green/socket.hpp"
#include "green/threadpool.hpp"
#include "green/timeout.hpp"
