import type { INestApplication, Type } from '@nestjs/common';
import { RequestMethod, VERSION_NEUTRAL } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA, VERSION_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { DiscoveryService, MetadataScanner, ModulesContainer } from '@nestjs/core';

/** One route of a running app, as its controllers declare it. */
export interface AppRoute {
  /** `GET`, `POST`…, or `ALL` for `@All()`. */
  readonly method: string;
  /** The path template with `:name` parameters and `*` for a trailing wildcard, e.g. `/v1/items`, `/users/:id`. */
  readonly path: string;
  /** `METHOD path`, the key that fuzz tables use. */
  readonly key: string;
  /** Whether the handler reads `@Body()`, `@Query()`. */
  readonly takesBody: boolean;
  readonly takesQuery: boolean;
  /** Whether the path has parameters or a wildcard (read through `@Param()` or a custom decorator alike). */
  readonly takesParams: boolean;
}

/** `@Controller({ version })` and `@Version()`: one, several, or `VERSION_NEUTRAL` (a symbol). */
type VersionValue = string | symbol | readonly (string | symbol)[];

const asList = (value: string | readonly string[] | undefined): string[] =>
  value === undefined ? [''] : typeof value === 'string' ? [value] : [...value];

/**
 * Joins and normalises path pieces: one leading slash, no trailing one, and both adapters' wildcard spellings
 * (`{*path}` for Express 5, a bare `*` for Fastify) as `*`.
 */
function joinPath(...pieces: string[]): string {
  const joined = pieces
    .flatMap((piece) => piece.split('/'))
    .filter((segment) => segment !== '')
    .map((segment) => (/^\{\*\w*\}$/.test(segment) ? '*' : segment))
    .join('/');
  return `/${joined}`;
}

/**
 * Every route the app's controllers map, read from the same decorator metadata Nest's router reads (so a
 * route hidden from the OpenAPI document is listed too). URI versioning with the default `v` prefix, as the
 * demo configures it; routes served outside controllers (the OpenAPI UI) are not listed.
 */
export function listRoutes(app: INestApplication): AppRoute[] {
  const discovery = new DiscoveryService(app.get(ModulesContainer));
  const scanner = new MetadataScanner();
  const routes = new Map<string, AppRoute>();
  for (const wrapper of discovery.getControllers()) {
    const controller = wrapper.metatype as Type | null;
    if (!controller) continue;
    const controllerPaths = asList(Reflect.getMetadata(PATH_METADATA, controller) as string | string[] | undefined);
    const controllerVersion = Reflect.getMetadata(VERSION_METADATA, controller) as VersionValue | undefined;
    for (const name of scanner.getAllMethodNames(controller.prototype)) {
      const handler = (controller.prototype as Record<string, unknown>)[name] as object;
      const methodPath = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
      if (methodPath === undefined) continue;
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
      const version = (Reflect.getMetadata(VERSION_METADATA, handler) as VersionValue | undefined) ?? controllerVersion;
      // A neutral version (the demo's default) has no prefix.
      const versions = (typeof version === 'object' ? version : [version ?? VERSION_NEUTRAL]).map((v) =>
        typeof v === 'symbol' ? '' : `v${v}`,
      );
      const args = Object.keys(
        (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, name) as object | undefined) ?? {},
      ).map((key) => Number(key.split(':')[0]));
      for (const prefix of versions) {
        for (const controllerPath of controllerPaths) {
          for (const path of asList(methodPath).map((piece) => joinPath(prefix, controllerPath, piece))) {
            const key = `${method} ${path}`;
            routes.set(key, {
              method,
              path,
              key,
              takesBody: args.includes(RouteParamtypes.BODY),
              takesQuery: args.includes(RouteParamtypes.QUERY),
              takesParams: /\/(?::|\*)/.test(path),
            });
          }
        }
      }
    }
  }
  return [...routes.values()].sort((a, b) => a.key.localeCompare(b.key));
}
