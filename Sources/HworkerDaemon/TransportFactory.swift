/// Builds the transport a worker sends through.
enum TransportFactory {
    static func make(_ config: Configuration) throws -> MailTransport {
        DiscardingTransport()
    }
}
