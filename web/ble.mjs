// Heart rate from a Bluetooth LE chest strap: the standard Heart Rate service
// (0x180D) and its Heart Rate Measurement characteristic (0x2A37), as the
// Bluetooth SIG's Heart Rate Service specification lays it out.

export const HEART_RATE_SERVICE = 0x180d;
export const HEART_RATE_MEASUREMENT = 0x2a37;

// One Heart Rate Measurement value (a DataView, typed array or ArrayBuffer):
//   byte 0, flags: bit 0 the rate is a uint16 (else a uint8); bits 1-2 sensor
//   contact (bit 2: supported, bit 1: detected); bit 3 an Energy Expended
//   field (uint16, kJ) follows; bit 4 RR intervals follow.
//   then the rate, the energy field when present (skipped), and RR intervals
//   (uint16 each, 1/1024 s) to the end. All multi-byte fields little-endian.
// Returns {bpm, contact (true, false, or null when not supported), rrMs: [...]};
// throws RangeError on a value too short for its flags.
export function parseHeartRateMeasurement(value) {
  const view = value instanceof DataView ? value
    : ArrayBuffer.isView(value) ? new DataView(value.buffer, value.byteOffset, value.byteLength)
      : new DataView(value);
  const need = (n, what) => {
    if (at + n > view.byteLength) throw new RangeError(`heart rate measurement: ${what} missing`);
  };
  let at = 0;
  need(1, 'flags');
  const flags = view.getUint8(at++);
  const wide = (flags & 0x01) !== 0;
  need(wide ? 2 : 1, 'heart rate');
  const bpm = wide ? view.getUint16(at, true) : view.getUint8(at);
  at += wide ? 2 : 1;
  const contact = (flags & 0x04) ? (flags & 0x02) !== 0 : null;
  if (flags & 0x08) {
    need(2, 'energy expended');
    at += 2;
  }
  const rrMs = [];
  if (flags & 0x10) {
    if ((view.byteLength - at) % 2 !== 0) throw new RangeError('heart rate measurement: odd RR interval bytes');
    for (; at < view.byteLength; at += 2) rrMs.push(view.getUint16(at, true) * 1000 / 1024);
  }
  return { bpm, contact, rrMs };
}

// Asks the browser for a strap (a user gesture must call this) and calls
// onReading(parsed) on every notification; resolves to the device, whose
// 'gattserverdisconnected' event tells when it goes.
export async function connectHeartRateStrap(bluetooth, onReading) {
  const device = await bluetooth.requestDevice({ filters: [{ services: [HEART_RATE_SERVICE] }] });
  const server = await device.gatt.connect();
  const service = await server.getPrimaryService(HEART_RATE_SERVICE);
  const characteristic = await service.getCharacteristic(HEART_RATE_MEASUREMENT);
  characteristic.addEventListener('characteristicvaluechanged',
    (event) => onReading(parseHeartRateMeasurement(event.target.value)));
  await characteristic.startNotifications();
  return device;
}
