import { quoteIdent, quoteLiteral } from '../../postgres/quote.js';
import { fdwOptions, optionChanges } from './clauses.js';
import { drops, type KindModule, plain } from './kind.js';
import { z } from 'zod'
import { objectId } from '../model.js'
import { maybeText, maybeTexts, reader, text } from './context.js';

const foreignServersReader = reader(
  `
    SELECT s.oid::int8::text AS oid, s.srvname, w.fdwname, s.srvtype, s.srvversion, s.srvoptions
      FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw`,
  z.object({ oid: text, srvname: text, fdwname: text, srvtype: maybeText, srvversion: maybeText, srvoptions: maybeTexts }),
  (rows, context) => {
    for (const row of rows) {
      if (context.isMember('pg_foreign_server', row.oid)) continue;
      const id = objectId('foreign_server', row.srvname);
      context.own('pg_foreign_server', row.oid, id);
      context.add({
        kind: 'foreign_server',
        id,
        schema: '',
        name: row.srvname,
        definition: { wrapper: row.fdwname, type: row.srvtype, version: row.srvversion, options: (row.srvoptions ?? []).slice().sort() },
        dependsOn: [],
      });
    }
  },
);

export const foreignServerKind: KindModule<'foreign_server'> = {
  kind: 'foreign_server',
  read: foreignServersReader,
  createRank: 13,
  catalog: 'pg_foreign_server',
  owned: true,
  neverCascaded: true,
  name: (object) => `SERVER ${quoteIdent(object.name)}`,
  create: (object) => {
    const d = object.definition;
    const type = d.type !== null ? ` TYPE ${quoteLiteral(d.type)}` : '';
    const version = d.version !== null ? ` VERSION ${quoteLiteral(d.version)}` : '';
    return [`CREATE SERVER ${quoteIdent(object.name)}${type}${version} FOREIGN DATA WRAPPER ${quoteIdent(d.wrapper)}${fdwOptions(d.options)}`];
  },
  changeMode: (from, to) => (from.definition.type === to.definition.type && from.definition.wrapper === to.definition.wrapper ? 'alter' : 'rebuild'),
  alter: (from, to) => {
    const x = from.definition;
    const version = x.version !== to.definition.version ? ` VERSION ${to.definition.version === null ? 'NULL' : quoteLiteral(to.definition.version)}` : '';
    const options = optionChanges(x.options, to.definition.options);
    return version || options ? [plain(`ALTER SERVER ${quoteIdent(to.name)}${version}${options}`)] : [];
  },
  drop: (object) => drops(`DROP SERVER ${quoteIdent(object.name)}`),
};
