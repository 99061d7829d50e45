import CCurl
import Glibc

/// Makes a libcurl transfer stoppable by a ``ConnectionInterrupter`` from another thread.
///
/// libcurl waits in `poll(2)` for up to a second between two calls of its progress callback, so the callback
/// alone would answer a cancellation late. Each socket libcurl creates is therefore attached to the interrupter
/// (`CURLOPT_SOCKOPTFUNCTION`), and detached just before libcurl closes it (`CURLOPT_CLOSESOCKETFUNCTION`):
/// ``ConnectionInterrupter/interrupt()`` shuts it down, which wakes libcurl at once; the progress callback
/// (`CURLOPT_XFERINFOFUNCTION`) then aborts the transfer with `CURLE_ABORTED_BY_CALLBACK` also between sockets,
/// and a socket created after the interrupt is refused.
enum CurlInterruption {
    /// Installs the three callbacks on `easy`, with `interrupter` as their data (kept alive by the handle).
    /// A caller that needs its own close-socket callback installs it afterwards and calls ``closed(_:by:)`` from it.
    static func install(_ interrupter: ConnectionInterrupter, on easy: CurlEasy) throws {
        easy.keepAlive(interrupter)
        let data = Unmanaged.passUnretained(interrupter).toOpaque()
        try easy.set(CURLOPT_NOPROGRESS, 0)
        try easy.setXferInfoFunction(progress, data: data)
        try easy.setSockOptFunction(socketCreated, data: data)
        try easy.setCloseSocketFunction(closeSocket, data: data)
    }

    /// Detaches `socket` from `interrupter` before it is closed (for a caller's own close-socket callback).
    static func closed(_ socket: curl_socket_t, by interrupter: ConnectionInterrupter?) {
        interrupter?.detach(socket)
    }

    private static let progress: curl_xferinfo_callback = { data, _, _, _, _ in
        guard let data else { return 0 }
        return Unmanaged<ConnectionInterrupter>.fromOpaque(data).takeUnretainedValue().isInterrupted ? 1 : 0
    }

    private static let socketCreated: curl_sockopt_callback = { data, socket, _ in
        guard let data else { return Int32(CURL_SOCKOPT_OK) }
        let interrupter = Unmanaged<ConnectionInterrupter>.fromOpaque(data).takeUnretainedValue()
        return interrupter.attach(socket) ? Int32(CURL_SOCKOPT_OK) : Int32(CURL_SOCKOPT_ERROR)
    }

    private static let closeSocket: curl_closesocket_callback = { data, socket in
        if let data { Unmanaged<ConnectionInterrupter>.fromOpaque(data).takeUnretainedValue().detach(socket) }
        return close(socket)
    }
}
