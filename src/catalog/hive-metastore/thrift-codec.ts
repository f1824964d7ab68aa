// Thrift values read and written from a field table rather than generated classes: the Hive Metastore
// service answers a few dozen of ThriftHiveMetastore's calls, and the tables in hms-idl.ts say, for those,
// which field id holds what. The protocol itself (TBinaryProtocol over a buffered transport) is the `thrift`
// package's; this only walks its readers and writers.
import type { TProtocol } from 'thrift';

/** A Thrift type as the field tables spell it. */
export type ThriftType =
  | 'bool'
  | 'byte'
  | 'i16'
  | 'i32'
  | 'i64'
  | 'double'
  | 'string'
  | 'binary'
  | { list: ThriftType }
  | { set: ThriftType }
  | { map: [ThriftType, ThriftType] }
  | { struct: string };

/** One field: its id, its name in the values the service handles, its type. */
export type ThriftField = readonly [id: number, name: string, type: ThriftType];

export type StructTable = Readonly<Record<string, readonly ThriftField[]>>;

export type ThriftStruct = Record<string, unknown>;

/** The wire codes of Thrift's types (TType in every Thrift library). */
const WIRE = { bool: 2, byte: 3, double: 4, i16: 6, i32: 8, i64: 10, string: 11, binary: 11, struct: 12, map: 13, set: 14, list: 15 } as const;

export function wireType(type: ThriftType): number {
  if (typeof type === 'string') return WIRE[type];
  if ('list' in type) return WIRE.list;
  if ('set' in type) return WIRE.set;
  if ('map' in type) return WIRE.map;
  return WIRE.struct;
}

export class ThriftCodec {
  constructor(private readonly structs: StructTable) {}

  private fields(name: string): readonly ThriftField[] {
    const fields = this.structs[name];
    if (!fields) throw new Error(`no field table for Thrift struct ${name}`);
    return fields;
  }

  /** Reads a struct's fields; fields the table does not name, or of another wire type, are skipped. */
  readFields(input: TProtocol, fields: readonly ThriftField[]): ThriftStruct {
    const value: ThriftStruct = {};
    input.readStructBegin();
    for (;;) {
      const begin = input.readFieldBegin();
      if (begin.ftype === 0) break;
      const field = fields.find(([id]) => id === begin.fid);
      if (field && wireType(field[2]) === begin.ftype) value[field[1]] = this.read(input, field[2]);
      else input.skip(begin.ftype);
      input.readFieldEnd();
    }
    input.readStructEnd();
    return value;
  }

  read(input: TProtocol, type: ThriftType): unknown {
    switch (type) {
      case 'bool':
        return input.readBool();
      case 'byte':
        return input.readByte();
      case 'i16':
        return input.readI16();
      case 'i32':
        return input.readI32();
      case 'i64':
        return input.readI64().toNumber();
      case 'double':
        return input.readDouble();
      case 'string':
        return input.readString();
      case 'binary':
        return input.readBinary();
    }
    if ('struct' in type) return this.readFields(input, this.fields(type.struct));
    if ('map' in type) {
      const begin = input.readMapBegin();
      const map: Record<string, unknown> = {};
      for (let i = 0; i < begin.size; i++) {
        const key = this.read(input, type.map[0]);
        map[typeof key === 'string' ? key : JSON.stringify(key)] = this.read(input, type.map[1]);
      }
      input.readMapEnd();
      return map;
    }
    const element = 'list' in type ? type.list : type.set;
    const begin = 'list' in type ? input.readListBegin() : input.readSetBegin();
    const items: unknown[] = [];
    for (let i = 0; i < begin.size; i++) items.push(this.read(input, element));
    if ('list' in type) input.readListEnd();
    else input.readSetEnd();
    return items;
  }

  /** Writes the fields that have a value (undefined and null ones are left out, as optional fields are). */
  writeFields(output: TProtocol, structName: string, fields: readonly ThriftField[], value: ThriftStruct): void {
    output.writeStructBegin(structName);
    for (const [id, name, type] of fields) {
      const v = value[name];
      if (v === undefined || v === null) continue;
      output.writeFieldBegin(name, wireType(type) as never, id);
      this.write(output, type, v);
      output.writeFieldEnd();
    }
    output.writeFieldStop();
    output.writeStructEnd();
  }

  write(output: TProtocol, type: ThriftType, value: unknown): void {
    switch (type) {
      case 'bool':
        return output.writeBool(Boolean(value));
      case 'byte':
        return output.writeByte(Number(value));
      case 'i16':
        return output.writeI16(Number(value));
      case 'i32':
        return output.writeI32(Number(value));
      case 'i64':
        return output.writeI64(Number(value));
      case 'double':
        return output.writeDouble(Number(value));
      case 'string':
        return output.writeString(String(value));
      case 'binary':
        return output.writeBinary(value as Buffer);
    }
    if ('struct' in type) return this.writeFields(output, type.struct, this.fields(type.struct), value as ThriftStruct);
    if ('map' in type) {
      const entries = Object.entries(value as Record<string, unknown>);
      output.writeMapBegin(wireType(type.map[0]) as never, wireType(type.map[1]) as never, entries.length);
      for (const [k, v] of entries) {
        this.write(output, type.map[0], k);
        this.write(output, type.map[1], v);
      }
      return output.writeMapEnd();
    }
    const element = 'list' in type ? type.list : type.set;
    const items = value as unknown[];
    if ('list' in type) output.writeListBegin(wireType(element) as never, items.length);
    else output.writeSetBegin(wireType(element) as never, items.length);
    for (const item of items) this.write(output, element, item);
    if ('list' in type) output.writeListEnd();
    else output.writeSetEnd();
  }
}
